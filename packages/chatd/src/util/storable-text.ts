/**
 * Text as PostgreSQL's `text` type stores it: NUL characters removed (PostgreSQL refuses them, SQLSTATE
 * 22021) and lone UTF-16 surrogates replaced by U+FFFD (they have no UTF-8 encoding). Model output is
 * passed through this before it is written, so no answer is ever refused for the bytes a model emitted.
 * Returns `text` itself when there is nothing to change (the common case costs one scan).
 */
export function storableText(text: string): string {
  const withoutNul = text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
  return withoutNul.isWellFormed() ? withoutNul : withoutNul.toWellFormed();
}

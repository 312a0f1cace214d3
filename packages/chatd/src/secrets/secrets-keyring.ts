import { readFile, stat } from 'node:fs/promises';
import { InvalidInputError } from '../errors.js';
import { parseSecretsKey } from './secret-box.js';

/**
 * Parses a list of secrets keys, as `--secrets-key` and `--secrets-key-file` take it: keys separated by
 * commas or newlines, the first one encrypts and any decrypts (rotation: `NEW,OLD`). Blank entries and
 * lines starting with `#` are ignored; a key listed twice counts once.
 * @throws {InvalidInputError} on an empty list or a malformed key, saying which entry (never its value).
 */
export function parseSecretsKeyList(text: string): Buffer[] {
  const entries = text
    .split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw new InvalidInputError(
      'no secrets key given: expected one or more keys, separated by commas or newlines (generate one with: openssl rand -hex 32)',
    );
  }
  const keys: Buffer[] = [];
  entries.forEach((entry, index) => {
    let key: Buffer;
    try {
      key = parseSecretsKey(entry);
    } catch (error) {
      if (entries.length === 1) throw error;
      throw new InvalidInputError(`key ${index + 1} of ${entries.length}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!keys.some((known) => known.equals(key))) keys.push(key);
  });
  return keys;
}

/**
 * Reads a list of secrets keys from a file (see {@link parseSecretsKeyList}): unlike a flag, it is not
 * visible in `ps` or the process environment.
 * @throws {InvalidInputError} naming the file when it cannot be read or holds no valid list.
 */
export async function readSecretsKeyFile(file: string): Promise<Buffer[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new InvalidInputError(`cannot read the secrets key file ${file} (${reason})`, { cause: error });
  }
  try {
    return parseSecretsKeyList(text);
  } catch (error) {
    throw new InvalidInputError(`the secrets key file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * A warning when the secrets key file can be read by other users than its owner (group or world bits
 * set), undefined when it cannot or cannot be checked. chatd still starts: the operator decides.
 */
export async function secretsKeyFileWarning(file: string): Promise<string | undefined> {
  const mode = await stat(file).then(
    (stats) => stats.mode & 0o777,
    () => undefined,
  );
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return `the secrets key file ${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`;
}

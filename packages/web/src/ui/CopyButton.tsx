import { useEffect, useState } from 'react';

/**
 * Copies text to the clipboard; resolves whether it did (never rejects). The async clipboard first; where it is missing
 * (plain HTTP on another host) or refuses (the document lost focus, a permission policy), the selection
 * route, which gives focus back to where it was.
 */
export async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused: the selection route below may still be allowed (the click's activation lasts a while).
    }
  }
  const previousFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    // Refused outright: reported as not copied.
  } finally {
    area.remove();
    previousFocus?.focus();
  }
  return copied;
}

/** A button that copies `text` and says for a moment whether it did. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [feedback, setFeedback] = useState<'copied' | 'failed' | undefined>();
  useEffect(() => {
    if (!feedback) return;
    const timer = setTimeout(() => setFeedback(undefined), 2000);
    return () => clearTimeout(timer);
  }, [feedback]);
  return (
    <button
      type="button"
      className="button-small"
      onClick={() => {
        void copyText(text).then((copied) => setFeedback(copied ? 'copied' : 'failed'));
      }}
    >
      {label}
      <span aria-live="polite" className="copy-feedback">
        {feedback === 'copied' ? ' ✓ Copied' : feedback === 'failed' ? ' Copy failed' : ''}
      </span>
    </button>
  );
}

import { type FormEvent, type KeyboardEvent, type ReactNode, useState } from 'react';

/** Whether a key press in a message box sends it: Enter alone (Shift+Enter is a new line; IME-safe). */
export function isSendKey(event: KeyboardEvent<HTMLTextAreaElement>): boolean {
  return event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing;
}

/**
 * The message box: Enter sends, Shift+Enter starts a new line. `onSend` resolves to whether the
 * message was taken (the box is cleared then).
 */
export function Composer({
  onSend,
  busy,
  label = 'Message',
  sendLabel = 'Send',
  autoFocus = false,
  children,
}: {
  onSend: (content: string) => Promise<boolean>;
  busy: boolean;
  label?: string;
  sendLabel?: string;
  /** Focus the box when it appears (the page is about writing a message). */
  autoFocus?: boolean;
  /** More controls beside the send button (a stop button, a model picker). */
  children?: ReactNode;
}) {
  const [content, setContent] = useState('');
  const send = async () => {
    if (!content.trim() || busy) return;
    if (await onSend(content)) setContent('');
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send();
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label className="field composer-field">
        <span className="visually-hidden">{label}</span>
        <textarea
          value={content}
          rows={3}
          // biome-ignore lint/a11y/noAutofocus: opt-in, on pages whose purpose is writing a message
          autoFocus={autoFocus}
          placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
          onChange={(event) => setContent(event.target.value)}
          onKeyDown={(event) => {
            if (isSendKey(event)) {
              event.preventDefault();
              void send();
            }
          }}
        />
      </label>
      <div className="composer-actions">
        {children}
        <button type="submit" className="button-primary" disabled={busy || !content.trim()}>
          {sendLabel}
        </button>
      </div>
    </form>
  );
}

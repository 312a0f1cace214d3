import { useState } from 'react';
import type { Message } from '../api/types';
import { LazyMarkdown } from '../markdown/LazyMarkdown';
import { CopyButton } from '../ui/CopyButton';
import { formatCount, formatDateTime } from '../ui/format';
import { isSendKey } from './Composer';

const FINISH_NOTES: Record<string, string> = {
  interrupted: 'Stopped before the answer was complete.',
  length: 'Cut off at the output limit.',
  error: 'The answer failed.',
};

/** One message: the text (Markdown for answers), and its actions (copy; edit a user message; regenerate). */
export function MessageItem({
  message,
  onEdit,
  onRegenerate,
  busy,
}: {
  message: Message;
  /** Present on user messages: saves an edit (later messages are removed and the turn reruns). */
  onEdit?: (content: string) => Promise<boolean>;
  /** Present on the last answer. */
  onRegenerate?: () => void;
  busy: boolean;
}) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const isUser = message.role === 'user';
  const author = isUser ? 'You' : 'Assistant';
  const save = async () => {
    if (onEdit && draft.trim() && (await onEdit(draft))) setEditing(false);
  };
  const tokens =
    message.role === 'assistant' && message.output_tokens !== null
      ? `${formatCount(message.input_tokens ?? 0)} in · ${formatCount(message.output_tokens)} out tokens`
      : undefined;
  return (
    <article className={`message message-${isUser ? 'user' : 'assistant'}`} aria-label={`${author} said`}>
      <header className="message-meta">
        <span className="message-author">{author}</span>
        <time dateTime={message.created_at}>{formatDateTime(message.created_at)}</time>
        {tokens && <span className="muted">{tokens}</span>}
      </header>
      {editing ? (
        <form
          className="message-edit"
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <label className="field">
            <span>Edit message</span>
            <textarea
              value={draft}
              rows={4}
              // biome-ignore lint/a11y/noAutofocus: opened by the Edit button, to change the text
              autoFocus
              onChange={(event) => setDraft(event.target.value)}
              onKeyDown={(event) => {
                if (isSendKey(event)) {
                  event.preventDefault();
                  void save();
                } else if (event.key === 'Escape') setEditing(false);
              }}
            />
          </label>
          <p className="muted">Saving removes the messages after this one and asks again.</p>
          <div className="row">
            <button type="submit" className="button-primary" disabled={busy || !draft.trim()}>
              Save and resend
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : isUser ? (
        <div className="message-text">{message.content}</div>
      ) : (
        <LazyMarkdown source={message.content} />
      )}
      {message.finish_reason && FINISH_NOTES[message.finish_reason] && (
        <p className="message-note">{FINISH_NOTES[message.finish_reason]}</p>
      )}
      {!editing && (
        <div className="message-actions">
          <CopyButton text={message.content} label="Copy message" />
          {onEdit && (
            <button
              type="button"
              className="button-small"
              disabled={busy}
              onClick={() => {
                setDraft(message.content);
                setEditing(true);
              }}
            >
              Edit
            </button>
          )}
          {onRegenerate && (
            <button type="button" className="button-small" disabled={busy} onClick={onRegenerate}>
              Regenerate
            </button>
          )}
        </div>
      )}
    </article>
  );
}

import { type FormEvent, useState } from 'react';
import type { Chat } from '../api/types';
import { ConfirmButton } from '../ui/ConfirmButton';
import { formatCount } from '../ui/format';
import { PageTitle } from '../ui/PageTitle';

/** The conversation's title (renamable), its token usage, and archive and delete. */
export function ChatHeader({
  chat,
  modelName,
  busy,
  onRename,
  onArchive,
  onCompact,
  onDelete,
}: {
  chat: Chat;
  /** The display name of the chat's model config, when the caller may see it. */
  modelName?: string | undefined;
  busy: boolean;
  onRename: (title: string) => Promise<boolean>;
  onArchive: (archived: boolean) => void;
  /** Summarises older history now (what happens on its own past the compression threshold). */
  onCompact: () => void;
  onDelete: () => void;
}) {
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(chat.title);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await onRename(title.trim())) setRenaming(false);
  };
  return (
    <div className="chat-header">
      <PageTitle title={chat.title || 'Untitled chat'} />
      {renaming ? (
        <form className="rename-form row" onSubmit={submit}>
          <label className="field field-inline">
            <span>Chat title</span>
            <input
              value={title}
              maxLength={1000}
              // biome-ignore lint/a11y/noAutofocus: opened by the Rename button, to type the new title
              autoFocus
              onChange={(event) => setTitle(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Escape') setRenaming(false);
              }}
            />
          </label>
          <button type="submit" className="button-primary" disabled={busy}>
            Save title
          </button>
          <button type="button" onClick={() => setRenaming(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <h1 className="chat-heading">{chat.title || 'Untitled chat'}</h1>
      )}
      <div className="chat-header-tools">
        {modelName && <span className="muted">Model: {modelName}</span>}
        <span className="muted" title="Tokens this chat has used">
          Usage: {formatCount(chat.usage.input_tokens)} in · {formatCount(chat.usage.output_tokens)} out
          tokens
        </span>
        {!renaming && (
          <button
            type="button"
            className="button-small"
            onClick={() => {
              setTitle(chat.title);
              setRenaming(true);
            }}
          >
            Rename
          </button>
        )}
        <button type="button" className="button-small" disabled={busy || chat.archived} onClick={onCompact}>
          Compact history
        </button>
        <button
          type="button"
          className="button-small"
          disabled={busy}
          onClick={() => onArchive(!chat.archived)}
        >
          {chat.archived ? 'Unarchive' : 'Archive'}
        </button>
        <ConfirmButton
          label="Delete"
          confirmLabel="Delete chat"
          question="Delete this chat and all its messages?"
          disabled={busy}
          onConfirm={onDelete}
        />
      </div>
    </div>
  );
}

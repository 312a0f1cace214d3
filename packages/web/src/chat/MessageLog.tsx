import type { ChatStatus, Message } from '../api/types';
import { LazyMarkdown } from '../markdown/LazyMarkdown';
import { MessageItem } from './MessageItem';
import { useStickToBottom } from './use-stick-to-bottom';

/**
 * The conversation as a live log (announced politely as it grows): older messages on request, the
 * messages with their actions, and the answer being streamed.
 */
export function MessageLog({
  messages,
  status,
  streamingText,
  hasOlder,
  loadingOlder,
  busy,
  onLoadOlder,
  onEdit,
  onRegenerate,
}: {
  messages: readonly Message[];
  status: ChatStatus;
  streamingText: string;
  hasOlder: boolean;
  loadingOlder: boolean;
  busy: boolean;
  onLoadOlder: () => void;
  onEdit: (messageId: number, content: string) => Promise<boolean>;
  onRegenerate: () => void;
}) {
  const turnActive = status === 'pending' || status === 'running';
  const lastMessage = messages.at(-1);
  const lastAnswerId = lastMessage?.role === 'assistant' ? lastMessage.id : undefined;
  const { ref, onScroll } = useStickToBottom<HTMLDivElement>(`${lastMessage?.id}:${streamingText.length}`);
  return (
    <div
      className="message-log"
      role="log"
      aria-live="polite"
      aria-label="Messages"
      ref={ref}
      onScroll={onScroll}
    >
      {hasOlder && (
        <button
          type="button"
          className="button-small load-older"
          disabled={loadingOlder}
          onClick={onLoadOlder}
        >
          {loadingOlder ? 'Loading…' : 'Load older messages'}
        </button>
      )}
      {messages.map((message) => (
        <MessageItem
          key={message.id}
          message={message}
          busy={busy}
          onEdit={message.role === 'user' ? (content) => onEdit(message.id, content) : undefined}
          onRegenerate={message.id === lastAnswerId && !turnActive ? onRegenerate : undefined}
        />
      ))}
      {turnActive && (streamingText || lastMessage?.role !== 'assistant') && (
        <article className="message message-assistant message-streaming" aria-label="Assistant is answering">
          <header className="message-meta">
            <span className="message-author">Assistant</span>
          </header>
          {streamingText ? (
            <LazyMarkdown source={streamingText} />
          ) : (
            <p className="muted">{status === 'pending' ? 'Waiting…' : 'Thinking…'}</p>
          )}
        </article>
      )}
    </div>
  );
}

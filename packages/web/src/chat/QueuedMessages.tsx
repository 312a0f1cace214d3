import type { QueuedMessage } from '../api/types';

/** Messages sent while an answer was running: they are answered in order, one after another. */
export function QueuedMessages({ messages }: { messages: readonly QueuedMessage[] }) {
  if (messages.length === 0) return null;
  return (
    <section className="queued">
      <h2>Queued ({messages.length})</h2>
      <ol>
        {messages.map((message) => (
          <li key={message.id} className="queued-message">
            {message.content}
          </li>
        ))}
      </ol>
    </section>
  );
}

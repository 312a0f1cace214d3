import type { Db } from '../connection.js';
import type { ChatQueuedMessageRow } from '../rows.js';

/** Queues a message for a busy chat. */
export async function insertQueuedMessage(
  db: Db,
  input: { chatId: string; content: string },
): Promise<ChatQueuedMessageRow> {
  const [row] = await db<[ChatQueuedMessageRow]>`
    INSERT INTO chat_queued_messages (chat_id, content) VALUES (${input.chatId}, ${input.content})
    RETURNING id, chat_id, content, created_at`;
  return row!;
}

/** A chat's queued messages in the order they will be promoted. */
export async function listQueuedMessages(db: Db, chatId: string): Promise<ChatQueuedMessageRow[]> {
  return db<ChatQueuedMessageRow[]>`
    SELECT id, chat_id, content, created_at FROM chat_queued_messages WHERE chat_id = ${chatId} ORDER BY id`;
}

/** Removes and returns the oldest queued message of a chat, or undefined when the queue is empty. */
export async function popNextQueuedMessage(
  db: Db,
  chatId: string,
): Promise<ChatQueuedMessageRow | undefined> {
  const [row] = await db<[ChatQueuedMessageRow?]>`
    DELETE FROM chat_queued_messages
    WHERE id = (SELECT id FROM chat_queued_messages WHERE chat_id = ${chatId} ORDER BY id LIMIT 1)
    RETURNING id, chat_id, content, created_at`;
  return row;
}

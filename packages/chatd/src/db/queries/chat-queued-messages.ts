import type { Db } from '../connection.js';
import type { ChatMessageRow, ChatQueuedMessageRow } from '../rows.js';

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

/** How many messages wait in a chat's queue. */
export async function countQueuedMessages(db: Db, chatId: string): Promise<number> {
  const [row] = await db<[{ count: number }]>`
    SELECT count(*) AS count FROM chat_queued_messages WHERE chat_id = ${chatId}`;
  return row!.count;
}

/**
 * Moves the oldest queued message into the history as a user message, in one statement. Undefined when
 * the queue is empty.
 */
export async function promoteNextQueuedMessage(db: Db, chatId: string): Promise<ChatMessageRow | undefined> {
  const [row] = await db<[ChatMessageRow?]>`
    WITH next AS (
      DELETE FROM chat_queued_messages
      WHERE id = (SELECT id FROM chat_queued_messages WHERE chat_id = ${chatId} ORDER BY id LIMIT 1 FOR UPDATE)
      RETURNING chat_id, content
    )
    INSERT INTO chat_messages (chat_id, role, content) SELECT chat_id, 'user', content FROM next
    RETURNING id, chat_id, role, content, model_config_id, input_tokens, output_tokens, created_at`;
  return row;
}

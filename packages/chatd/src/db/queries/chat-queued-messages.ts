import type { Db } from '../connection.js';
import type { ChatMessageRow, ChatQueuedMessageRow } from '../rows.js';
import { MESSAGE_COLUMNS } from './columns.js';

/**
 * Queues a message and counts it on the chat row (`chats.queued_messages`, which a turn's end reads), in
 * one statement; with `markPending` the chat also becomes pending (an idle chat whose queue still holds
 * messages). Callers hold the chat's row lock.
 */
export async function insertQueuedMessage(
  db: Db,
  input: { chatId: string; content: string; markPending?: boolean },
): Promise<ChatQueuedMessageRow & { statusVersion: number }> {
  const [row] = await db<[ChatQueuedMessageRow & { statusVersion: number }]>`
    WITH counted AS (
      UPDATE chats SET
        queued_messages = queued_messages + 1,
        status = CASE WHEN ${input.markPending ?? false} THEN 'pending' ELSE status END,
        last_error = CASE WHEN ${input.markPending ?? false} THEN NULL ELSE last_error END,
        updated_at = now()
      WHERE id = ${input.chatId}
      RETURNING status_version
    ), queued AS (
      INSERT INTO chat_queued_messages (chat_id, content) VALUES (${input.chatId}, ${input.content})
      RETURNING id, chat_id, content, created_at
    )
    SELECT queued.*, counted.status_version FROM queued, counted`;
  return row!;
}

/** A chat's queued messages in the order they will be promoted. */
export async function listQueuedMessages(db: Db, chatId: string): Promise<ChatQueuedMessageRow[]> {
  return db<ChatQueuedMessageRow[]>`
    SELECT id, chat_id, content, created_at FROM chat_queued_messages WHERE chat_id = ${chatId} ORDER BY id`;
}

/**
 * Moves the oldest queued message into the history as a user message, in one statement, for the turn
 * that holds `claimId` (a turn that lost its claim promotes nothing). Undefined when nothing is queued.
 */
export async function promoteNextQueuedMessage(
  db: Db,
  chatId: string,
  claimId: string,
): Promise<ChatMessageRow | undefined> {
  const [row] = await db<[ChatMessageRow?]>`
    WITH claimed AS (
      UPDATE chats SET queued_messages = queued_messages - 1
      WHERE id = ${chatId} AND claim_id = ${claimId} AND status = 'running' AND queued_messages > 0
      RETURNING id
    ), next AS (
      DELETE FROM chat_queued_messages
      WHERE id = (
        SELECT q.id FROM chat_queued_messages q JOIN claimed ON q.chat_id = claimed.id ORDER BY q.id LIMIT 1
      )
      RETURNING chat_id, content
    )
    INSERT INTO chat_messages (chat_id, role, content) SELECT chat_id, 'user', content FROM next
    RETURNING ${db.unsafe(MESSAGE_COLUMNS)}`;
  return row;
}

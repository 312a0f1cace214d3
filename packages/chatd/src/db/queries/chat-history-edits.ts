import type { Db } from '../connection.js';
import type { ChatMessageRole, ChatMessageRow } from '../rows.js';
import { type JoinedMessageColumns, joinedMessage, MESSAGE_COLUMNS } from './columns.js';

/** One message's role, for checking what an edit points at. */
export async function getChatMessageRole(
  db: Db,
  input: { chatId: string; messageId: number },
): Promise<ChatMessageRole | undefined> {
  const [row] = await db<[{ role: ChatMessageRole }?]>`
    SELECT role FROM chat_messages WHERE id = ${input.messageId} AND chat_id = ${input.chatId}`;
  return row?.role;
}

/**
 * Where a regenerate starts: the first assistant message after the chat's last user message (the
 * answer to regenerate); undefined when the history ends with a user message or has no answer.
 */
export async function getTrailingAnswerStart(db: Db, chatId: string): Promise<number | undefined> {
  const [row] = await db<[{ id: number | null }]>`
    SELECT min(id) AS id FROM chat_messages
    WHERE chat_id = ${chatId} AND role = 'assistant'
      AND id > coalesce((SELECT max(id) FROM chat_messages WHERE chat_id = ${chatId} AND role = 'user'), 0)`;
  return row!.id ?? undefined;
}

/** What {@link restartChatFrom} did. */
export interface ChatRestart {
  /** The status version of the chat's new `pending` status. */
  statusVersion: number;
  /** Every message after this id was removed; null when nothing was. */
  truncatedAfter: number | null;
  /** The user message appended (an edit's new text), when one was given. */
  message: ChatMessageRow | null;
}

/**
 * Rewrites a chat's history from `fromMessageId` on and makes it `pending` again, in one statement: every
 * message with an id >= `fromMessageId` is removed, `content` (when given) is appended as a new user
 * message, the queue is emptied when `clearQueue`, and any claim is revoked, so a turn running on any
 * replica can no longer write its answer (its `completeChatTurn` finds another claim) and its heartbeat
 * stops it. The caller holds the chat's row lock (`getChatByIdForUpdate`) and has checked ownership.
 */
export async function restartChatFrom(
  db: Db,
  input: { chatId: string; fromMessageId: number; content: string | null; clearQueue: boolean },
): Promise<ChatRestart> {
  const [row] = await db<[Omit<ChatRestart, 'message'> & JoinedMessageColumns]>`
    WITH removed AS (
      DELETE FROM chat_messages WHERE chat_id = ${input.chatId} AND id >= ${input.fromMessageId} RETURNING id
    ), kept AS (
      SELECT coalesce(max(id), 0) AS last FROM chat_messages WHERE chat_id = ${input.chatId} AND id < ${input.fromMessageId}
    ), unqueued AS (
      DELETE FROM chat_queued_messages WHERE chat_id = ${input.chatId} AND ${input.clearQueue}::boolean RETURNING id
    ), restarted AS (
      UPDATE chats SET
        status = 'pending', worker_id = NULL, claim_id = NULL, heartbeat_at = NULL, last_error = NULL,
        interrupt_requested = false, turn_takeovers = 0,
        queued_messages = CASE WHEN ${input.clearQueue}::boolean THEN 0 ELSE queued_messages END,
        history_truncated_after = CASE WHEN EXISTS (SELECT 1 FROM removed) THEN (SELECT last FROM kept)
                                       ELSE history_truncated_after END,
        updated_at = now()
      WHERE id = ${input.chatId}
      RETURNING status_version, CASE WHEN EXISTS (SELECT 1 FROM removed) THEN (SELECT last FROM kept) END AS truncated_after
    ), message AS (
      INSERT INTO chat_messages (chat_id, role, content)
      SELECT ${input.chatId}, 'user', ${input.content}::text FROM restarted WHERE ${input.content}::text IS NOT NULL
      RETURNING ${db.unsafe(MESSAGE_COLUMNS)}
    )
    SELECT restarted.status_version, restarted.truncated_after, message.id AS message_id, message.chat_id,
           message.role, message.content, message.model_config_id, message.input_tokens, message.output_tokens,
           message.finish_reason, message.reply_to, message.created_at
    FROM restarted LEFT JOIN message ON true`;
  return {
    statusVersion: row!.statusVersion,
    truncatedAfter: row!.truncatedAfter ?? null,
    message: joinedMessage(row!),
  };
}

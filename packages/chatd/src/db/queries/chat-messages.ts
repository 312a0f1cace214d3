import type { Db } from '../connection.js';
import type { ChatMessageRow } from '../rows.js';
import { MESSAGE_COLUMNS } from './columns.js';

/** Fields a message is created with; an assistant message's `finishReason` defaults to `stop`. */
export type ChatMessageInsert = Pick<
  ChatMessageRow,
  'chatId' | 'role' | 'content' | 'modelConfigId' | 'inputTokens' | 'outputTokens'
> &
  Partial<Pick<ChatMessageRow, 'finishReason' | 'replyTo'>>;

/** Appends a message to a chat (outside a turn: imports, tests). */
export async function insertChatMessage(db: Db, input: ChatMessageInsert): Promise<ChatMessageRow> {
  const finishReason = input.role === 'assistant' ? (input.finishReason ?? 'stop') : null;
  const [row] = await db<[ChatMessageRow]>`
    INSERT INTO chat_messages (chat_id, role, content, model_config_id, input_tokens, output_tokens, finish_reason, reply_to)
    VALUES (${input.chatId}, ${input.role}, ${input.content}, ${input.modelConfigId}, ${input.inputTokens},
            ${input.outputTokens}, ${finishReason}, ${input.replyTo ?? null})
    RETURNING ${db.unsafe(MESSAGE_COLUMNS)}`;
  return row!;
}

/** A chat's messages with id greater than `afterId` (0 for all), in order. */
export async function listChatMessages(db: Db, chatId: string, afterId = 0): Promise<ChatMessageRow[]> {
  return db<ChatMessageRow[]>`
    SELECT ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages WHERE chat_id = ${chatId} AND id > ${afterId} ORDER BY id`;
}

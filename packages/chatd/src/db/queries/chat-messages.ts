import type { Db } from '../connection.js';
import type { ChatMessageRow } from '../rows.js';

const COLUMNS = 'id, chat_id, role, content, model_config_id, input_tokens, output_tokens, created_at';

/** Fields a message is created with. */
export type ChatMessageInsert = Pick<
  ChatMessageRow,
  'chatId' | 'role' | 'content' | 'modelConfigId' | 'inputTokens' | 'outputTokens'
>;

/** Appends a message to a chat. */
export async function insertChatMessage(db: Db, input: ChatMessageInsert): Promise<ChatMessageRow> {
  const [row] = await db<[ChatMessageRow]>`
    INSERT INTO chat_messages (chat_id, role, content, model_config_id, input_tokens, output_tokens)
    VALUES (${input.chatId}, ${input.role}, ${input.content}, ${input.modelConfigId}, ${input.inputTokens},
            ${input.outputTokens})
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row!;
}

/** A chat's messages with id greater than `afterId` (0 for all), in order. */
export async function listChatMessages(db: Db, chatId: string, afterId = 0): Promise<ChatMessageRow[]> {
  return db<ChatMessageRow[]>`
    SELECT ${db.unsafe(COLUMNS)} FROM chat_messages WHERE chat_id = ${chatId} AND id > ${afterId} ORDER BY id`;
}

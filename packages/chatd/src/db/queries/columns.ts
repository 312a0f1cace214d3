import type { ChatMessageRow } from '../rows.js';

/**
 * Column lists shared by the queries of several tables (not queries themselves: `index.ts` does not
 * spread this module into the store).
 */

/** The columns of a `ChatMessageRow`, for every query that returns messages. */
export const MESSAGE_COLUMNS =
  'id, chat_id, role, content, model_config_id, input_tokens, output_tokens, finish_reason, reply_to, created_at';

/** The columns of a `ChatRow`. */
export const CHAT_COLUMNS =
  'id, owner_id, title, status, status_version, model_config_id, worker_id, claim_id, heartbeat_at, last_error, queued_messages, turn_takeovers, interrupt_requested, archived, created_at, updated_at, title_state, input_tokens, output_tokens, history_truncated_after';

/** A message returned next to other columns, its id as `message_id` (null: no message was written). */
export type JoinedMessageColumns = Partial<ChatMessageRow> & { messageId: number | null };

/** The message of a row that joined one (see {@link JoinedMessageColumns}), or null. */
export function joinedMessage(row: JoinedMessageColumns): ChatMessageRow | null {
  if (row.messageId === null) return null;
  return {
    id: row.messageId,
    chatId: row.chatId!,
    role: row.role!,
    content: row.content!,
    modelConfigId: row.modelConfigId ?? null,
    inputTokens: row.inputTokens ?? null,
    outputTokens: row.outputTokens ?? null,
    finishReason: row.finishReason ?? null,
    replyTo: row.replyTo ?? null,
    createdAt: row.createdAt!,
  };
}

/**
 * SQL for one message of `alias` as a JSON object, for statements that return messages beside a row of
 * other columns (whose names would clash). Decoded by {@link messageFromJson}.
 */
export function messageJson(alias: string): string {
  return `json_build_object('id', ${alias}.id, 'chat_id', ${alias}.chat_id, 'role', ${alias}.role, 'content', ${alias}.content, 'model_config_id', ${alias}.model_config_id, 'input_tokens', ${alias}.input_tokens, 'output_tokens', ${alias}.output_tokens, 'finish_reason', ${alias}.finish_reason, 'reply_to', ${alias}.reply_to, 'created_at', ${alias}.created_at)`;
}

/** A message as {@link messageJson} builds it (JSON: snake_case keys, the timestamp a string). */
export interface MessageJson {
  id: number;
  chat_id: string;
  role: ChatMessageRow['role'];
  content: string;
  model_config_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  finish_reason: ChatMessageRow['finishReason'];
  reply_to: number | null;
  created_at: string;
}

/** The row of a message that {@link messageJson} built. */
export function messageFromJson(json: MessageJson): ChatMessageRow {
  return {
    id: Number(json.id),
    chatId: json.chat_id,
    role: json.role,
    content: json.content,
    modelConfigId: json.model_config_id,
    inputTokens: json.input_tokens,
    outputTokens: json.output_tokens,
    finishReason: json.finish_reason,
    replyTo: json.reply_to === null ? null : Number(json.reply_to),
    createdAt: new Date(json.created_at),
  };
}

/**
 * The conflict clause of every upsert into `chat_usage_daily AS u` (turn ends, summary calls): one row per
 * day, user and model config, whose sums grow.
 */
export const DAILY_USAGE_UPSERT = `ON CONFLICT (day, user_id, (coalesce(model_config_id, '00000000-0000-0000-0000-000000000000'::uuid)))
  DO UPDATE SET input_tokens = u.input_tokens + EXCLUDED.input_tokens,
                output_tokens = u.output_tokens + EXCLUDED.output_tokens,
                turns = u.turns + EXCLUDED.turns`;

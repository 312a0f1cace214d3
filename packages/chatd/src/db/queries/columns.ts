/**
 * Column lists shared by the queries of several tables (not queries themselves: `index.ts` does not
 * spread this module into the store).
 */

/** The columns of a `ChatMessageRow`, for every query that returns messages. */
export const MESSAGE_COLUMNS =
  'id, chat_id, role, content, model_config_id, input_tokens, output_tokens, finish_reason, reply_to, created_at';

/** The columns of a `ChatRow`. */
export const CHAT_COLUMNS =
  'id, owner_id, title, status, status_version, model_config_id, worker_id, claim_id, heartbeat_at, last_error, queued_messages, turn_takeovers, interrupt_requested, archived, created_at, updated_at';

import { storableText } from '../../util/storable-text.js';
import type { Db } from '../connection.js';
import type { ChatMessageRow, ChatStatus, ChatSummaryRow } from '../rows.js';
import { DAILY_USAGE_UPSERT, MESSAGE_COLUMNS } from './columns.js';

/**
 * The context window's queries (migration 0011): a chat's summary (`chat_summaries`), the history a turn
 * sends (summary and later messages, in the one statement that read the history before), and the
 * compaction requests of `POST /chats/{id}/compact` (`chats.compact_requested`).
 */

const SUMMARY_COLUMNS =
  'chat_id, content, through_message_id, token_count, model_config_id, input_tokens, output_tokens, compactions, created_at, updated_at';

/** What a turn reads before it answers: see {@link getChatTurnHistory}. */
export interface ChatTurnHistory {
  /** The chat's summary: it stands for every message up to `throughMessageId`. */
  readonly summary: Pick<ChatSummaryRow, 'content' | 'throughMessageId' | 'tokenCount'> | null;
  /** The messages after the summary (all of them without one), in order. */
  readonly messages: ChatMessageRow[];
  /** A compaction was requested (`POST /chats/{id}/compact`); reading it took the request. */
  readonly compactRequested: boolean;
}

type HistoryRow = ChatMessageRow & { kind: 'message' | 'summary' | 'compact' };

/**
 * The history a turn of the claim `claimId` sends, in one statement (a turn read its history in one
 * statement before summaries existed, and still does): the chat's summary, the messages after it, and
 * whether a compaction was requested. Reading a request takes it (clears the flag), only for the claim
 * that owns the chat: one request makes at most one turn compact, and a turn that lost its claim takes
 * nothing.
 */
export async function getChatTurnHistory(db: Db, chatId: string, claimId: string): Promise<ChatTurnHistory> {
  // One result of three kinds of rows (UNION ALL): a summary row carries its text in `content`, the last
  // message it covers in `id` and its token count in `input_tokens`.
  const rows = await db<HistoryRow[]>`
    WITH request AS (
      UPDATE chats SET compact_requested = false
      WHERE id = ${chatId} AND claim_id = ${claimId} AND status = 'running' AND compact_requested
      RETURNING id
    ), summary AS (
      SELECT through_message_id, content, token_count FROM chat_summaries WHERE chat_id = ${chatId}
    )
    SELECT 'message' AS kind, ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages
    WHERE chat_id = ${chatId} AND id > coalesce((SELECT through_message_id FROM summary), 0)
    UNION ALL
    SELECT 'summary', through_message_id, ${chatId}::uuid, NULL, content, NULL, token_count, NULL, NULL, NULL, NULL
    FROM summary
    UNION ALL
    SELECT 'compact', NULL, id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM request
    ORDER BY kind, id`;
  let summary: ChatTurnHistory['summary'] = null;
  let compactRequested = false;
  const messages: ChatMessageRow[] = [];
  for (const { kind, ...row } of rows) {
    if (kind === 'message') messages.push(row);
    else if (kind === 'summary') {
      summary = { content: row.content, throughMessageId: row.id, tokenCount: row.inputTokens ?? 0 };
    } else compactRequested = true;
  }
  return { summary, messages, compactRequested };
}

/** A summary to store: see {@link saveChatSummary}. */
export interface ChatSummaryInsert {
  chatId: string;
  /** The claim whose turn summarised: nothing is stored unless it still owns the chat. */
  claimId: string;
  /** Made storable here (see `storableText`). */
  content: string;
  throughMessageId: number;
  tokenCount: number;
  modelConfigId: string | null;
  /** Usage of the summary call, added to the chat's summary totals. */
  inputTokens: number;
  outputTokens: number;
}

/**
 * Stores a chat's summary (replacing an older one), in one statement, only while `claimId` still owns
 * the chat and only when it covers more than the stored one (a late writer never moves it back). The
 * usage of the call is added to the totals of every summary call of the chat. Undefined when nothing was
 * stored.
 */
export async function saveChatSummary(db: Db, input: ChatSummaryInsert): Promise<ChatSummaryRow | undefined> {
  const [row] = await db<[ChatSummaryRow?]>`
    WITH target AS (
      SELECT id, owner_id FROM chats WHERE id = ${input.chatId} AND claim_id = ${input.claimId} AND status = 'running'
    ), saved AS (
      INSERT INTO chat_summaries AS s
        (chat_id, content, through_message_id, token_count, model_config_id, input_tokens, output_tokens)
      SELECT id, ${storableText(input.content)}, ${input.throughMessageId}, ${input.tokenCount},
             ${input.modelConfigId}::uuid, ${input.inputTokens}, ${input.outputTokens}
      FROM target
      ON CONFLICT (chat_id) DO UPDATE SET
        content = EXCLUDED.content, through_message_id = EXCLUDED.through_message_id,
        token_count = EXCLUDED.token_count, model_config_id = EXCLUDED.model_config_id,
        input_tokens = s.input_tokens + EXCLUDED.input_tokens,
        output_tokens = s.output_tokens + EXCLUDED.output_tokens,
        compactions = s.compactions + 1, updated_at = now()
      WHERE s.through_message_id < EXCLUDED.through_message_id
      RETURNING ${db.unsafe(SUMMARY_COLUMNS)}
    ), counted AS (
      -- The summary call cost tokens too: the chat's usage and the day's ledger include them (not a turn).
      UPDATE chats SET input_tokens = input_tokens + ${input.inputTokens ?? 0}::int,
                       output_tokens = output_tokens + ${input.outputTokens ?? 0}::int
      WHERE id IN (SELECT chat_id FROM saved)
    ), usage AS (
      INSERT INTO chat_usage_daily AS u (day, user_id, model_config_id, input_tokens, output_tokens, turns)
      SELECT (now() AT TIME ZONE 'UTC')::date, owner_id, ${input.modelConfigId}::uuid,
             ${input.inputTokens ?? 0}::int, ${input.outputTokens ?? 0}::int, 0
      FROM target WHERE EXISTS (SELECT 1 FROM saved)
      ${db.unsafe(DAILY_USAGE_UPSERT)}
    )
    SELECT * FROM saved`;
  return row;
}

/** A chat's summary, or undefined when it has none. */
export async function getChatSummary(db: Db, chatId: string): Promise<ChatSummaryRow | undefined> {
  const [row] = await db<[ChatSummaryRow?]>`
    SELECT ${db.unsafe(SUMMARY_COLUMNS)} FROM chat_summaries WHERE chat_id = ${chatId}`;
  return row;
}

/** What {@link requestChatCompaction} did. */
export interface CompactionRequest {
  /** The chat's status after the request. */
  status: ChatStatus;
  statusVersion: number;
  /** The chat was idle and became pending: a turn that only compacts runs now. */
  woke: boolean;
}

/**
 * Records a compaction request on a chat the user owns that is not archived, in one statement. An idle
 * chat (`waiting`, nothing queued) becomes `pending`, so that a turn compacts it now (and answers
 * nothing); otherwise the next turn compacts first, and a running turn is followed by a compacting one
 * (migration 0011's trigger). Undefined when there is no such chat.
 */
export async function requestChatCompaction(
  db: Db,
  input: { chatId: string; ownerId: string },
): Promise<CompactionRequest | undefined> {
  const [row] = await db<[CompactionRequest?]>`
    UPDATE chats c SET compact_requested = true,
      -- The claim running now, whose turn's end then makes the chat pending again (migration 0011).
      compact_requested_claim = CASE WHEN c.status = 'running' THEN c.claim_id ELSE NULL END,
      status = CASE WHEN c.status = 'waiting' AND c.queued_messages = 0 THEN 'pending' ELSE c.status END,
      updated_at = CASE WHEN c.status = 'waiting' AND c.queued_messages = 0 THEN now() ELSE c.updated_at END
    FROM (SELECT id, status FROM chats WHERE id = ${input.chatId} FOR UPDATE) before
    WHERE c.id = before.id AND c.owner_id = ${input.ownerId} AND NOT c.archived
    RETURNING c.status, c.status_version, (c.status = 'pending' AND before.status = 'waiting') AS woke`;
  return row;
}

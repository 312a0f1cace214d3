import type { Db } from '../connection.js';
import type { ChatMessageRow, ChatRow } from '../rows.js';
import { CHAT_COLUMNS, MESSAGE_COLUMNS, type MessageJson, messageFromJson, messageJson } from './columns.js';

/**
 * Where a page of a user's chats ends: the sort key of its last chat. Pages walk (updated_at DESC, id
 * DESC); the id makes the order total, so the next page starts exactly after this chat.
 *
 * `updatedAt` is exact: PostgreSQL keeps microseconds and a JS Date only milliseconds, so the key is read
 * as text (UTC, ISO 8601 with microseconds, the same under any DateStyle or TimeZone) and compared as
 * `timestamptz` again.
 */
export interface ChatPageKey {
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  readonly updatedAt: string;
  readonly id: string;
}

/** A page of chats, and the key the next page starts after (null: this was the last page). */
export interface ChatPage {
  readonly chats: ChatRow[];
  readonly next: ChatPageKey | null;
}

/** What a page of a user's chats holds. */
export interface ChatPageQuery {
  readonly ownerId: string;
  /** true: archived chats only; false: the others; null: both. */
  readonly archived: boolean | null;
  /** Start after this chat; null for the first page. */
  readonly after: ChatPageKey | null;
  readonly limit: number;
}

/** The exact sort key of a chat row as text (see {@link ChatPageKey}). */
const PAGE_KEY = `to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS page_key`;

/**
 * The owner's chats, newest activity first (`updated_at DESC, id DESC`), one page. Keyset paging: a page
 * reads `limit + 1` rows along `chats_owner_activity_idx` from the key (never an OFFSET), so a chat
 * changed while a client pages neither shifts nor repeats the others.
 */
export async function listOwnerChatsPage(db: Db, input: ChatPageQuery): Promise<ChatPage> {
  const rows = await db<PagedChatRow[]>`
    SELECT ${db.unsafe(CHAT_COLUMNS)}, ${db.unsafe(PAGE_KEY)} FROM chats c
    WHERE ${pageConditions(db, input)}
    ORDER BY c.updated_at DESC, c.id DESC LIMIT ${input.limit + 1}`;
  return toPage(rows, input.limit);
}

/**
 * {@link listOwnerChatsPage} of the chats whose title or any message matches `query` (web search syntax:
 * words, "quoted phrases", `or`, `-word`; `simple` configuration: whole words, no stemming), in the same
 * order and with the same keys.
 *
 * The plan restricts by owner first: it walks the owner's chats along `chats_owner_activity_idx` and stops
 * after `limit + 1` matches. A chat matches when its id is among the owner's chats whose title matches
 * (the GIN index `chats_title_search_idx`) or has a matching message (the GIN index
 * `chat_messages_content_search_idx`, or, when the planner expects many matches, the chat's own messages
 * through `chat_messages_chat_idx`). The expressions are exactly those of the indexes (migration 0010):
 * any other spelling would not use them.
 */
export async function searchOwnerChatsPage(
  db: Db,
  input: ChatPageQuery & { readonly query: string },
): Promise<ChatPage> {
  const rows = await db<PagedChatRow[]>`
    SELECT ${db.unsafe(CHAT_COLUMNS)}, ${db.unsafe(PAGE_KEY)} FROM chats c
    WHERE ${pageConditions(db, input)}
      AND (
        c.id IN (
          SELECT t.id FROM chats t
          WHERE t.owner_id = ${input.ownerId}
            AND to_tsvector('simple', t.title) @@ websearch_to_tsquery('simple', ${input.query}))
        OR EXISTS (
          SELECT 1 FROM chat_messages m
          WHERE m.chat_id = c.id
            AND to_tsvector('simple', left(m.content, 50000)) @@ websearch_to_tsquery('simple', ${input.query})))
    ORDER BY c.updated_at DESC, c.id DESC LIMIT ${input.limit + 1}`;
  return toPage(rows, input.limit);
}

type PagedChatRow = ChatRow & { pageKey: string };

/**
 * The owner, archive and key conditions. Each optional condition is its own fragment (not `$n IS NULL OR
 * …`), so every statement has a plan where the key is an index condition of `chats_owner_activity_idx`.
 */
function pageConditions(db: Db, input: ChatPageQuery) {
  const archived = input.archived === null ? db`` : db`AND c.archived = ${input.archived}`;
  const after = input.after
    ? // Sent as text: a parameter typed timestamptz would go through a JS Date and lose the microseconds.
      db`AND (c.updated_at, c.id) < (${input.after.updatedAt}::text::timestamptz, ${input.after.id}::uuid)`
    : db``;
  return db`c.owner_id = ${input.ownerId} ${archived} ${after}`;
}

function toPage(rows: PagedChatRow[], limit: number): ChatPage {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page.at(-1);
  return {
    chats: page.map(({ pageKey: _, ...chat }) => chat),
    next: more && last ? { updatedAt: last.pageKey, id: last.id } : null,
  };
}

/** A page of a chat's messages, oldest first, and the id to page on from (null: no older message). */
export interface ChatMessagePage {
  readonly messages: ChatMessageRow[];
  /** The smallest id of the page when older messages exist: pass it as `beforeId` for the next page. */
  readonly nextBeforeId: number | null;
}

/**
 * The newest `limit` messages of a chat with an id below `beforeId` (all when null), in ascending id
 * order; read backwards along `chat_messages_chat_idx`.
 */
export async function listChatMessagesPage(
  db: Db,
  input: { chatId: string; beforeId: number | null; limit: number },
): Promise<ChatMessagePage> {
  const before = input.beforeId === null ? db`` : db`AND id < ${input.beforeId}`;
  const rows = await db<ChatMessageRow[]>`
    SELECT * FROM (
      SELECT ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages WHERE chat_id = ${input.chatId} ${before}
      ORDER BY id DESC LIMIT ${input.limit + 1}
    ) newest ORDER BY id`;
  const more = rows.length > input.limit;
  const messages = more ? rows.slice(1) : rows;
  return { messages, nextBeforeId: more ? messages[0]!.id : null };
}

/** At most `limit` messages of a chat with an id above `afterId`, in order: one batch of a catch-up. */
export async function listChatMessagesAfter(
  db: Db,
  input: { chatId: string; afterId: number; limit: number },
): Promise<ChatMessageRow[]> {
  return db<ChatMessageRow[]>`
    SELECT ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages
    WHERE chat_id = ${input.chatId} AND id > ${input.afterId} ORDER BY id LIMIT ${input.limit}`;
}

/** What a stream sends first (see {@link getChatStreamSnapshot}). */
export interface ChatStreamSnapshot {
  readonly chat: ChatRow;
  /** The messages the client lacks, in order. */
  readonly messages: ChatMessageRow[];
  /** The client resumed past the chat's last truncation: every message after this id is resent. */
  readonly resumedAt: number | null;
}

/**
 * What a chat stream opens with, in one statement (one snapshot, so the status and the messages agree):
 * the chat if `ownerId` owns it, and the messages the client lacks. With `afterId` 0, the newest
 * `newest` messages; else at most `batch` messages after `afterId`, or after the chat's last truncation
 * when the client resumes past it (it may hold messages that are gone). Undefined when the chat is not
 * the owner's.
 */
export async function getChatStreamSnapshot(
  db: Db,
  input: { chatId: string; ownerId: string; afterId: number; newest: number; batch: number },
): Promise<ChatStreamSnapshot | undefined> {
  const resumedAt = db`CASE WHEN chat.history_truncated_after IS NOT NULL
    AND ${input.afterId}::bigint > chat.history_truncated_after THEN chat.history_truncated_after END`;
  const picked =
    input.afterId === 0
      ? db`SELECT ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages WHERE chat_id = chat.id
           ORDER BY id DESC LIMIT ${input.newest}`
      : db`SELECT ${db.unsafe(MESSAGE_COLUMNS)} FROM chat_messages
           WHERE chat_id = chat.id AND id > coalesce(${resumedAt}, ${input.afterId}::bigint)
           ORDER BY id LIMIT ${input.batch}`;
  const [row] = await db<[(ChatRow & { snapshotMessages: MessageJson[]; resumedAt: number | null })?]>`
    WITH chat AS (
      SELECT ${db.unsafe(CHAT_COLUMNS)} FROM chats WHERE id = ${input.chatId} AND owner_id = ${input.ownerId}
    )
    SELECT chat.*, ${resumedAt} AS resumed_at,
      (SELECT coalesce(json_agg(${db.unsafe(messageJson('picked'))} ORDER BY picked.id), '[]'::json)
       FROM (${picked}) picked) AS snapshot_messages
    FROM chat`;
  if (!row) return undefined;
  const { snapshotMessages, resumedAt: resumed, ...chat } = row;
  return {
    chat,
    messages: snapshotMessages.map(messageFromJson),
    resumedAt: resumed === null ? null : Number(resumed),
  };
}

import type { Db } from '../connection.js';
import type { ChatStatus } from '../rows.js';

/**
 * Deleting chats. Every table that holds rows of a chat references `chats (id) ON DELETE CASCADE`, so
 * one `DELETE FROM chats` removes the chat and all of it in one statement, atomically, whatever tables
 * later migrations add (test/http/chat-delete.test.ts checks every table that references chats).
 *
 * A turn running on a deleted chat writes nothing: its end, its queue promotion and its heartbeat all
 * match on the chat's claim, which is gone with the row (see `completeChatTurn`).
 */

/** What a deleted chat was doing: a running turn is told to stop (its status version names it). */
export interface DeletedChat {
  readonly status: ChatStatus;
  readonly statusVersion: number;
}

/** Deletes a chat of `ownerId` and every row of it; undefined when there is no such chat of theirs. */
export async function deleteOwnedChat(
  db: Db,
  input: { chatId: string; ownerId: string },
): Promise<DeletedChat | undefined> {
  const [row] = await db<[DeletedChat?]>`
    DELETE FROM chats WHERE id = ${input.chatId} AND owner_id = ${input.ownerId}
    RETURNING status, status_version`;
  return row;
}

/**
 * The advisory-lock key of chat retention ("chret" in ASCII): one replica at a time deletes idle chats.
 */
const CHAT_RETENTION_LOCK = 0x6368726574;

/**
 * Takes the chat retention lock for the current transaction if no other session holds it; false when
 * one does (another replica is deleting). Transaction-scoped, so it needs no dedicated connection and
 * is released by the commit, whatever happens.
 */
export async function tryChatRetentionLock(db: Db): Promise<boolean> {
  const [row] = await db<
    [{ locked: boolean }]
  >`SELECT pg_try_advisory_xact_lock(${CHAT_RETENTION_LOCK}) AS locked`;
  return row!.locked;
}

/**
 * Deletes up to `limit` chats untouched (`updated_at`) for `idleForMs`, oldest first, and returns their
 * ids. Only idle chats (`waiting`, `error`): a chat that is `pending` or `running` has a turn to finish.
 *
 * Races: `FOR UPDATE SKIP LOCKED` passes over a chat whose row another transaction holds (a message being
 * sent, a turn ending: it is being touched, so it is not idle), and the row lock re-checks the status and
 * `updated_at` of the newest row version, so a chat touched since the scan began is kept.
 */
export async function deleteIdleChats(
  db: Db,
  input: { idleForMs: number; limit: number },
): Promise<string[]> {
  const rows = await db<{ id: string }[]>`
    DELETE FROM chats WHERE id IN (
      SELECT id FROM chats
      WHERE status IN ('waiting', 'error')
        AND updated_at < now() - make_interval(secs => ${input.idleForMs / 1000})
      ORDER BY updated_at LIMIT ${input.limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id`;
  return rows.map((row) => row.id);
}

import type { Db } from '../connection.js';
import type { UserSessionRow, UserSessionWithUserRow } from '../rows.js';

const SESSION_COLUMNS = 'id, public_id, user_id, secret_hash, created_at, last_seen_at, expires_at';

/** Stores a session: its public id and the hash of its secret (never the secret). */
export async function insertUserSession(
  db: Db,
  input: { userId: string; publicId: string; secretHash: Buffer; expiresAt: Date; userAgent: string | null },
): Promise<UserSessionRow> {
  const [row] = await db<[UserSessionRow]>`
    INSERT INTO user_sessions (user_id, public_id, secret_hash, expires_at, user_agent)
    VALUES (${input.userId}, ${input.publicId}, ${input.secretHash}, ${input.expiresAt}, ${input.userAgent})
    RETURNING ${db.unsafe(SESSION_COLUMNS)}`;
  return row!;
}

/** The session with this public id and its user, or undefined. Expiry and disabling are the caller's to check. */
export async function getUserSessionWithUserByPublicId(
  db: Db,
  publicId: string,
): Promise<UserSessionWithUserRow | undefined> {
  const [row] = await db<[UserSessionWithUserRow?]>`
    SELECT s.id, s.public_id, s.user_id, s.secret_hash, s.created_at, s.last_seen_at, s.expires_at,
           u.username, u.role, u.disabled_at
    FROM user_sessions s JOIN users u ON u.id = s.user_id
    WHERE s.public_id = ${publicId}`;
  return row;
}

/** Records activity on a session (its idle expiry counts from here). */
export async function touchUserSession(db: Db, id: string): Promise<void> {
  await db`UPDATE user_sessions SET last_seen_at = now() WHERE id = ${id}`;
}

/** Ends one session (logout). The trigger notifies every replica. */
export async function deleteUserSession(db: Db, id: string): Promise<boolean> {
  const rows = await db`DELETE FROM user_sessions WHERE id = ${id}`;
  return rows.count > 0;
}

/** Ends every session of a user, except `keepId` when given (a password change keeps the caller's). */
export async function deleteUserSessionsOfUser(db: Db, userId: string, keepId?: string): Promise<number> {
  const rows = keepId
    ? await db`DELETE FROM user_sessions WHERE user_id = ${userId} AND id <> ${keepId}`
    : await db`DELETE FROM user_sessions WHERE user_id = ${userId}`;
  return rows.count;
}

/** Removes sessions past their absolute expiry or idle for longer than `idleMs`; returns how many. */
export async function deleteExpiredUserSessions(db: Db, idleMs: number): Promise<number> {
  const rows = await db`
    DELETE FROM user_sessions
    WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(secs => ${idleMs / 1000})`;
  return rows.count;
}

/** Of these session ids, the ones that still authenticate: present, within both expiries, user enabled. */
export async function filterLiveUserSessions(
  db: Db,
  ids: readonly string[],
  idleMs: number,
): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db<{ id: string }[]>`
    SELECT s.id FROM user_sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = ANY(${ids as string[]}::uuid[]) AND u.disabled_at IS NULL AND s.expires_at > now()
      AND s.last_seen_at > now() - make_interval(secs => ${idleMs / 1000})`;
  return rows.map((row) => row.id);
}

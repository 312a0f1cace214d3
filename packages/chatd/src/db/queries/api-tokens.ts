import type { Db } from '../connection.js';
import type { ApiTokenRow, ApiTokenSummaryRow, ApiTokenWithUserRow } from '../rows.js';

const TOKEN_COLUMNS = 'id, public_id, user_id, name, secret_hash, created_at, last_used_at, expires_at';
const SUMMARY_COLUMNS = 'id, user_id, name, created_at, last_used_at, expires_at';

/** Stores a token's public id and the hash of its secret (never the secret). */
export async function insertApiToken(
  db: Db,
  input: { userId: string; publicId: string; name: string; secretHash: Buffer; expiresAt?: Date | null },
): Promise<ApiTokenRow> {
  const [row] = await db<[ApiTokenRow]>`
    INSERT INTO api_tokens (user_id, public_id, name, secret_hash, expires_at)
    VALUES (${input.userId}, ${input.publicId}, ${input.name}, ${input.secretHash}, ${input.expiresAt ?? null})
    RETURNING ${db.unsafe(TOKEN_COLUMNS)}`;
  return row!;
}

/** The token with this public id and its user, or undefined. Expiry and disabling are the caller's to check. */
export async function getApiTokenWithUserByPublicId(
  db: Db,
  publicId: string,
): Promise<ApiTokenWithUserRow | undefined> {
  const [row] = await db<[ApiTokenWithUserRow?]>`
    SELECT t.id, t.public_id, t.user_id, t.name, t.secret_hash, t.created_at, t.last_used_at, t.expires_at,
           u.username, u.role, u.disabled_at
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.public_id = ${publicId}`;
  return row;
}

/** Records that the token was used now. */
export async function touchApiTokenLastUsed(db: Db, id: string): Promise<void> {
  await db`UPDATE api_tokens SET last_used_at = now() WHERE id = ${id}`;
}

/** Every token of a user, oldest first, without hashes. Expired tokens are listed (their owner may want to see them). */
export async function listApiTokensByUser(db: Db, userId: string): Promise<ApiTokenSummaryRow[]> {
  return db<ApiTokenSummaryRow[]>`
    SELECT ${db.unsafe(SUMMARY_COLUMNS)} FROM api_tokens WHERE user_id = ${userId} ORDER BY created_at, id`;
}

/** How many unexpired tokens a user has (a cap keeps one account from filling the table). */
export async function countLiveApiTokensOfUser(db: Db, userId: string): Promise<number> {
  const [row] = await db<[{ count: number }]>`
    SELECT count(*) AS count FROM api_tokens
    WHERE user_id = ${userId} AND (expires_at IS NULL OR expires_at > now())`;
  return row!.count;
}

/** Deletes one token of one user; false when that user has no such token. The trigger notifies every replica. */
export async function deleteApiTokenOfUser(db: Db, userId: string, tokenId: string): Promise<boolean> {
  const rows = await db`DELETE FROM api_tokens WHERE id = ${tokenId} AND user_id = ${userId}`;
  return rows.count > 0;
}

/** Deletes one token by id, whoever owns it (the CLI's revoke); returns the owner, or undefined. */
export async function deleteApiTokenById(db: Db, tokenId: string): Promise<{ userId: string } | undefined> {
  const [row] = await db<[{ userId: string }?]>`
    DELETE FROM api_tokens WHERE id = ${tokenId} RETURNING user_id`;
  return row;
}

/** Deletes every token of a user (a disabled user's tokens end with it); returns how many. */
export async function deleteApiTokensOfUser(db: Db, userId: string): Promise<number> {
  const rows = await db`DELETE FROM api_tokens WHERE user_id = ${userId}`;
  return rows.count;
}

/** Of these token ids, the ones that still authenticate: present, unexpired, their user enabled. */
export async function filterLiveApiTokens(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db<{ id: string }[]>`
    SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.id = ANY(${ids as string[]}::uuid[]) AND u.disabled_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > now())`;
  return rows.map((row) => row.id);
}

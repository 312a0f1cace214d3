import type { Db } from '../connection.js';
import type { ApiTokenRow, ApiTokenWithUserRow } from '../rows.js';

/** Stores a token's public id and the hash of its secret (never the secret). */
export async function insertApiToken(
  db: Db,
  input: { userId: string; publicId: string; name: string; secretHash: Buffer },
): Promise<ApiTokenRow> {
  const [row] = await db<[ApiTokenRow]>`
    INSERT INTO api_tokens (user_id, public_id, name, secret_hash)
    VALUES (${input.userId}, ${input.publicId}, ${input.name}, ${input.secretHash})
    RETURNING id, public_id, user_id, name, secret_hash, created_at, last_used_at`;
  return row!;
}

/** The token with this public id and its user, or undefined. */
export async function getApiTokenWithUserByPublicId(
  db: Db,
  publicId: string,
): Promise<ApiTokenWithUserRow | undefined> {
  const [row] = await db<[ApiTokenWithUserRow?]>`
    SELECT t.id, t.public_id, t.user_id, t.name, t.secret_hash, t.created_at, t.last_used_at, u.username, u.role
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.public_id = ${publicId}`;
  return row;
}

/** Records that the token was used now. */
export async function touchApiTokenLastUsed(db: Db, id: string): Promise<void> {
  await db`UPDATE api_tokens SET last_used_at = now() WHERE id = ${id}`;
}

/** Every token of a user (hashes included; callers must not expose them). */
export async function listApiTokensByUser(db: Db, userId: string): Promise<ApiTokenRow[]> {
  return db<ApiTokenRow[]>`
    SELECT id, public_id, user_id, name, secret_hash, created_at, last_used_at
    FROM api_tokens WHERE user_id = ${userId} ORDER BY created_at`;
}

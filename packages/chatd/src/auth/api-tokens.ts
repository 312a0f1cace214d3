import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { UserRole } from '../db/rows.js';
import type { Store } from '../db/store.js';

/**
 * API tokens look like `chatd_<public id>_<secret>`: the public id (12 characters of [a-z0-9]) finds
 * the row; the secret (32 random bytes, base64url) is only ever stored as its SHA-256. A high-entropy
 * secret needs no slow hash: nobody can brute-force 256 bits.
 */
const TOKEN_PATTERN = /^chatd_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const PUBLIC_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_BYTES = 32;

/** Refresh `last_used_at` at most this often per token, so that reads do not turn into writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** A freshly generated token: `token` is shown to its owner once; only `secretHash` is stored. */
export interface GeneratedApiToken {
  readonly token: string;
  readonly publicId: string;
  readonly secretHash: Buffer;
}

/** Generates a token with a 256-bit secret. */
export function generateApiToken(): GeneratedApiToken {
  let publicId = '';
  for (let i = 0; i < 12; i++) publicId += PUBLIC_ID_ALPHABET[randomInt(PUBLIC_ID_ALPHABET.length)];
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { token: `chatd_${publicId}_${secret}`, publicId, secretHash: hashSecret(secret) };
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Compares in constant time; unequal lengths cannot happen (both are SHA-256 digests). */
function secretMatches(secret: string, storedHash: Buffer): boolean {
  const candidate = hashSecret(secret);
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash);
}

/** Who a valid token belongs to. */
export interface AuthenticatedUser {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  readonly tokenId: string;
}

/** A hash that matches no secret, compared when the public id is unknown so both paths cost the same. */
const DECOY_HASH = hashSecret(randomBytes(SECRET_BYTES).toString('base64url'));

/**
 * The user a bearer token belongs to, or undefined for any malformed, unknown or wrong token (callers
 * answer all three alike, so a caller learns nothing about which public ids exist).
 */
export async function authenticateApiToken(
  store: Store,
  token: string,
): Promise<AuthenticatedUser | undefined> {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  const [, publicId, secret] = match as unknown as [string, string, string];
  const row = await store.getApiTokenWithUserByPublicId(publicId);
  const matches = secretMatches(secret, row?.secretHash ?? DECOY_HASH);
  if (!row || !matches) return undefined;
  if (row.lastUsedAt === null || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await store.touchApiTokenLastUsed(row.id);
  }
  return { id: row.userId, username: row.username, role: row.role, tokenId: row.id };
}

/** Issues a new token for a user and stores its hash; returns the token in clear (show it once). */
export async function issueApiToken(store: Store, userId: string, name: string): Promise<string> {
  const generated = generateApiToken();
  await store.insertApiToken({
    userId,
    publicId: generated.publicId,
    name,
    secretHash: generated.secretHash,
  });
  return generated.token;
}

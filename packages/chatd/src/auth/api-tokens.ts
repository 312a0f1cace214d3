import type { ApiTokenSummaryRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { ConflictError, InvalidInputError } from '../errors.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { type CredentialReader, storeCredentialReader } from './credential-cache.js';
import { generateCredential, isStale, parseCredential, secretMatches } from './secret-credentials.js';

export type { AuthenticatedUser } from './authenticated-user.js';

/** API tokens look like `chatd_<public id>_<secret>` (see `secret-credentials.ts`): this is their prefix. */
export const TOKEN_PREFIX = 'chatd';

/** Refresh `last_used_at` at most this often per token, so that reads do not turn into writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** The longest `expires_in` a token may be given: 10 years. */
export const MAX_TOKEN_LIFETIME_MS = 10 * 366 * 24 * 3_600_000;
/** The shortest: a minute (anything shorter is a mistake). */
export const MIN_TOKEN_LIFETIME_MS = 60_000;
/** Live (unexpired) tokens one user may hold: enough for any person, a bound for a runaway script. */
export const MAX_LIVE_TOKENS_PER_USER = 100;

/**
 * When this process last refreshed each token's `last_used_at`, so that a burst of requests with one token
 * refreshes it once, not once per request in flight. Entries older than the resolution say nothing the
 * row does not: they are dropped whenever the map grows past {@link MAX_TOUCHES_HELD}.
 */
const touchedAt = new Map<string, number>();
const MAX_TOUCHES_HELD = 10_000;

/** The later of the row's `last_used_at` and this process's own last refresh of it. */
function latestUse(tokenId: string, lastUsedAt: Date | null): Date | null {
  const touched = touchedAt.get(tokenId);
  if (touched === undefined) return lastUsedAt;
  return lastUsedAt === null || lastUsedAt.getTime() < touched ? new Date(touched) : lastUsedAt;
}

/** Notes a refresh of `tokenId`'s `last_used_at` by this process (see {@link touchedAt}). */
function noteTouch(tokenId: string): void {
  if (touchedAt.size >= MAX_TOUCHES_HELD) {
    const cutoff = Date.now() - LAST_USED_RESOLUTION_MS;
    for (const [id, at] of touchedAt) if (at < cutoff) touchedAt.delete(id);
  }
  touchedAt.set(tokenId, Date.now());
}

/**
 * The user a bearer token belongs to, or undefined for any malformed, unknown, wrong or expired token, or
 * a disabled user's (callers answer all alike, so a caller learns nothing about which public ids exist).
 * The token is read through `credentials` (a {@link CredentialCache} on a server: no query when warm).
 */
export async function authenticateApiToken(
  store: Store,
  token: string,
  credentials: CredentialReader = storeCredentialReader(store),
): Promise<AuthenticatedUser | undefined> {
  const parsed = parseCredential(TOKEN_PREFIX, token);
  if (!parsed) return undefined;
  const row = await credentials.apiToken(parsed.publicId);
  if (!secretMatches(parsed.secret, row?.secretHash) || !row) return undefined;
  if (row.disabledAt !== null) return undefined;
  if (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now()) return undefined;
  if (isStale(latestUse(row.id, row.lastUsedAt), LAST_USED_RESOLUTION_MS)) {
    // Noted before the write: requests of the same token that arrive meanwhile (they read the same old
    // last_used_at, from memory or from their own concurrent load) do not write it again.
    noteTouch(row.id);
    await store.touchApiTokenLastUsed(row.id);
    // What is held still has the old last_used_at: read the new one next time.
    credentials.forget('token', parsed.publicId);
  }
  return {
    id: row.userId,
    username: row.username,
    role: row.role,
    credential: { kind: 'token', id: row.id, expiresAt: row.expiresAt },
  };
}

/** A token just issued: `token` is in clear (show it once). */
export interface IssuedApiToken {
  readonly id: string;
  readonly name: string;
  readonly token: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

/**
 * Issues a new token for a user and stores its hash. `lifetimeMs` (when given) sets its expiry.
 * @throws {InvalidInputError} for a blank or over-long name or a lifetime out of range.
 * @throws {ConflictError} when the user already holds {@link MAX_LIVE_TOKENS_PER_USER} live tokens.
 */
export async function issueApiToken(
  store: Store,
  userId: string,
  name: string,
  lifetimeMs?: number,
): Promise<IssuedApiToken> {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 200) {
    throw new InvalidInputError('name: must be 1-200 characters');
  }
  if (
    lifetimeMs !== undefined &&
    !(lifetimeMs >= MIN_TOKEN_LIFETIME_MS && lifetimeMs <= MAX_TOKEN_LIFETIME_MS)
  ) {
    throw new InvalidInputError('expires_in: must be between 1 minute and 10 years');
  }
  const generated = generateCredential(TOKEN_PREFIX);
  return store.transaction(async (tx) => {
    if ((await tx.countLiveApiTokensOfUser(userId)) >= MAX_LIVE_TOKENS_PER_USER) {
      throw new ConflictError(
        `a user may hold at most ${MAX_LIVE_TOKENS_PER_USER} live tokens; revoke some first`,
      );
    }
    const row = await tx.insertApiToken({
      userId,
      publicId: generated.publicId,
      name: trimmed,
      secretHash: generated.secretHash,
      expiresAt: lifetimeMs === undefined ? null : new Date(Date.now() + lifetimeMs),
    });
    return {
      id: row.id,
      name: row.name,
      token: generated.value,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
    };
  });
}

/** A user's tokens, without secrets or hashes. */
export function listApiTokens(store: Store, userId: string): Promise<ApiTokenSummaryRow[]> {
  return store.listApiTokensByUser(userId);
}

/**
 * Revokes one of a user's tokens: refused at once by every replica (the next request reads the table),
 * and the database trigger tells every replica to close the streams it opened.
 * @returns false when that user has no such token.
 */
export function revokeApiToken(store: Store, userId: string, tokenId: string): Promise<boolean> {
  return store.deleteApiTokenOfUser(userId, tokenId);
}

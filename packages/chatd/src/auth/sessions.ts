import { createHmac, timingSafeEqual } from 'node:crypto';
import type { UserSessionWithUserRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { type CredentialReader, storeCredentialReader } from './credential-cache.js';
import { generateCredential, isStale, parseCredential, secretMatches } from './secret-credentials.js';

/** Session cookies look like `chatds_<public id>_<secret>` (see `secret-credentials.ts`). */
const SESSION_PREFIX = 'chatds';
/** Record activity at most this often per session (its idle expiry has this resolution). */
const LAST_SEEN_RESOLUTION_MS = 60_000;

/** Options of {@link SessionManager}; durations in ms. */
export interface SessionOptions {
  /** A session unused this long ends. Default 7 days. */
  readonly idleTimeoutMs: number;
  /** A session ends this long after login, however active. Default 30 days. */
  readonly lifetimeMs: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = Object.freeze({
  idleTimeoutMs: 7 * 24 * 3_600_000,
  lifetimeMs: 30 * 24 * 3_600_000,
});

/** A session just started: `cookieValue` goes into the cookie, `csrfToken` to the page. */
export interface StartedSession {
  readonly id: string;
  readonly cookieValue: string;
  readonly csrfToken: string;
  readonly expiresAt: Date;
}

/**
 * Browser sessions, stored hashed with an idle and an absolute expiry. The CSRF token is an HMAC of the
 * session's secret: only a holder of the (HttpOnly) cookie's secret, which is the server, can compute it,
 * and it needs no column of its own.
 */
export class SessionManager {
  readonly #store: Store;
  readonly options: SessionOptions;

  readonly #credentials: CredentialReader;

  /** @param credentials where sessions are read from on each request (default: the store, uncached). */
  constructor(store: Store, options: Partial<SessionOptions> = {}, credentials?: CredentialReader) {
    this.#store = store;
    this.#credentials = credentials ?? storeCredentialReader(store);
    this.options = Object.freeze({ ...DEFAULT_SESSION_OPTIONS, ...options });
  }

  /** Starts a session for a user who just proved who they are. */
  async start(userId: string, userAgent: string | undefined): Promise<StartedSession> {
    const generated = generateCredential(SESSION_PREFIX);
    const expiresAt = new Date(Date.now() + this.options.lifetimeMs);
    const row = await this.#store.insertUserSession({
      userId,
      publicId: generated.publicId,
      secretHash: generated.secretHash,
      expiresAt,
      userAgent: userAgent ? userAgent.slice(0, 512) : null,
    });
    return { id: row.id, cookieValue: generated.value, csrfToken: csrfTokenOf(generated.secret), expiresAt };
  }

  /**
   * The user of a session cookie's value, or undefined when it is malformed, unknown, wrong, past either
   * expiry, or its user is disabled (all answered alike).
   */
  async authenticate(cookieValue: string): Promise<AuthenticatedUser | undefined> {
    const parsed = parseCredential(SESSION_PREFIX, cookieValue);
    if (!parsed) return undefined;
    const now = Date.now();
    let row = await this.#credentials.session(parsed.publicId);
    if (row && this.#idleExpired(row, now)) {
      // A cached row may predate another replica's refresh of last_seen_at: ask the database.
      this.#credentials.forget('session', parsed.publicId);
      row = await this.#credentials.session(parsed.publicId);
    }
    if (!secretMatches(parsed.secret, row?.secretHash) || !row) return undefined;
    if (row.disabledAt !== null || row.expiresAt.getTime() <= now || this.#idleExpired(row, now))
      return undefined;
    if (isStale(row.lastSeenAt, LAST_SEEN_RESOLUTION_MS, now)) {
      await this.#store.touchUserSession(row.id);
      this.#credentials.forget('session', parsed.publicId);
    }
    return {
      id: row.userId,
      username: row.username,
      role: row.role,
      credential: {
        kind: 'session',
        id: row.id,
        expiresAt: new Date(Math.min(row.expiresAt.getTime(), now + this.options.idleTimeoutMs)),
        csrfToken: csrfTokenOf(parsed.secret),
      },
    };
  }

  #idleExpired(row: UserSessionWithUserRow, now: number): boolean {
    return row.lastSeenAt.getTime() + this.options.idleTimeoutMs <= now;
  }

  /** Ends a session (logout); every replica closes its streams. */
  async end(sessionId: string): Promise<void> {
    await this.#store.deleteUserSession(sessionId);
  }

  /** Deletes sessions past either expiry (housekeeping; they are refused anyway). */
  deleteExpired(): Promise<number> {
    return this.#store.deleteExpiredUserSessions(this.options.idleTimeoutMs);
  }
}

function csrfTokenOf(sessionSecret: string): string {
  return createHmac('sha256', sessionSecret).update('chatd csrf v1').digest('base64url');
}

/** Whether a sent `X-CSRF-Token` is the session's, in constant time. */
export function csrfTokenMatches(sent: string | undefined, expected: string): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

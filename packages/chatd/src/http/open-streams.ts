import type { Logger } from 'pino';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import type { Revocation } from '../auth/credential-revocations.js';
import type { Store } from '../db/store.js';
import { RateLimitedError } from '../errors.js';
import type { SseResponse } from './sse.js';

/** Options of {@link OpenStreams}. */
export interface OpenStreamsOptions {
  /** Streams one user may hold open on this replica at once; more are answered 429. */
  readonly maxPerUser: number;
  /** The session idle timeout, for re-checking sessions the way authentication does. */
  readonly sessionIdleTimeoutMs: number;
}

interface OpenStream {
  readonly user: AuthenticatedUser;
  readonly expiry: NodeJS.Timeout | undefined;
}

/** The most a timer can wait (2^31 - 1 ms); a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The event streams open on this replica and the credentials that opened them. A stream lives no longer
 * than its credential: it is closed when a revocation names its token, session or user (within the
 * notification's delivery time, on every replica), when its credential expires, and, after a gap in
 * notifications, when a re-check finds its credential gone.
 */
export class OpenStreams {
  readonly #streams = new Map<SseResponse, OpenStream>();
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #options: OpenStreamsOptions;

  constructor(deps: { store: Store; logger: Logger }, options: OpenStreamsOptions) {
    this.#store = deps.store;
    this.#logger = deps.logger;
    this.#options = options;
  }

  /** How many streams are open. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Registers a stream of `user`; it is forgotten when it closes.
   * @throws {RateLimitedError} when the user already holds the maximum of open streams here.
   */
  add(sse: SseResponse, user: AuthenticatedUser): void {
    let count = 0;
    for (const stream of this.#streams.values()) if (stream.user.id === user.id) count += 1;
    if (count >= this.#options.maxPerUser) {
      throw new RateLimitedError(
        `at most ${this.#options.maxPerUser} streams may be open at once per user; close one first`,
        5_000,
      );
    }
    this.#streams.set(sse, { user, expiry: this.#expiryTimer(sse, user.credential.expiresAt) });
    sse.onClose(() => this.#forget(sse));
  }

  /** Closes every stream (server shutdown). */
  closeAll(): void {
    for (const sse of [...this.#streams.keys()]) sse.close();
  }

  /** Closes the streams a revocation ends; `all` re-checks every credential against the database. */
  revoke(revocation: Revocation): void {
    // A role or name change ends no credential: streams stay open.
    if (revocation.kind === 'user_changed') return;
    if (revocation.kind === 'all') {
      void this.revalidate().catch((error: unknown) =>
        this.#logger.warn({ err: error }, 'could not re-check the credentials of open streams'),
      );
      return;
    }
    for (const [sse, { user }] of this.#streams) {
      const matches =
        revocation.kind === 'user'
          ? user.id === revocation.id
          : user.credential.kind === revocation.kind && user.credential.id === revocation.id;
      if (matches) this.#end(sse, revocation.kind);
    }
  }

  /** Re-checks every open stream's credential and closes those that no longer authenticate. */
  async revalidate(): Promise<void> {
    const snapshot = [...this.#streams];
    const tokenIds = new Set<string>();
    const sessionIds = new Set<string>();
    for (const [, { user }] of snapshot) {
      (user.credential.kind === 'token' ? tokenIds : sessionIds).add(user.credential.id);
    }
    const [liveTokens, liveSessions] = await Promise.all([
      this.#store.filterLiveApiTokens([...tokenIds]),
      this.#store.filterLiveUserSessions([...sessionIds], this.#options.sessionIdleTimeoutMs),
    ]);
    const live = new Set([...liveTokens, ...liveSessions]);
    for (const [sse, { user }] of snapshot) {
      if (!live.has(user.credential.id)) this.#end(sse, 'recheck');
    }
  }

  #expiryTimer(sse: SseResponse, expiresAt: Date | null): NodeJS.Timeout | undefined {
    if (expiresAt === null) return undefined;
    const delay = expiresAt.getTime() - Date.now();
    const timer = setTimeout(
      () => {
        if (delay > MAX_TIMER_MS) {
          const stream = this.#streams.get(sse);
          if (stream) this.#streams.set(sse, { ...stream, expiry: this.#expiryTimer(sse, expiresAt) });
          return;
        }
        // For a session this may be its idle bound as of connect time: a client whose session is still
        // alive reconnects and gets a fresh bound.
        this.#end(sse, 'expired');
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
    timer.unref();
    return timer;
  }

  #end(sse: SseResponse, reason: string): void {
    this.#logger.debug({ reason }, 'closing a stream whose credential ended');
    // A comment, not an event: a client that reconnects learns the rest from the 401.
    sse.comment('credential ended');
    sse.close();
  }

  #forget(sse: SseResponse): void {
    const stream = this.#streams.get(sse);
    if (stream?.expiry) clearTimeout(stream.expiry);
    this.#streams.delete(sse);
  }
}

import { type CacheStats, LoadingCache, NOT_FOUND } from '@chatd/cache';
import type { ApiTokenWithUserRow, UserSessionWithUserRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import { type Revocation, subscribeToRevocations } from './credential-revocations.js';

/** Where credentials are read from: the store itself, or a {@link CredentialCache} in front of it. */
export interface CredentialReader {
  /** The token with this public id and its user, or undefined. */
  apiToken(publicId: string): Promise<ApiTokenWithUserRow | undefined>;
  /** The session with this public id and its user, or undefined. */
  session(publicId: string): Promise<UserSessionWithUserRow | undefined>;
  /**
   * Forgets what is held for this credential, so that the next read is the database's: after this
   * replica wrote to it (a `last_used_at` refresh), or when what is held looks expired.
   */
  forget(kind: 'token' | 'session', publicId: string): void;
}

/** Reads credentials straight from the store (no cache: one query per request). */
export function storeCredentialReader(store: Store): CredentialReader {
  return {
    apiToken: (publicId) => store.getApiTokenWithUserByPublicId(publicId),
    session: (publicId) => store.getUserSessionWithUserByPublicId(publicId),
    forget: () => {},
  };
}

/** Options of a {@link CredentialCache}; durations in ms. */
export interface CredentialCacheOptions {
  /**
   * How long a credential is served from memory without reading it again. Revocations do not wait for it
   * (they arrive as notifications); it bounds how stale what no notification reports can be (another
   * replica's `last_seen_at` refresh, say). Default 300000.
   */
  readonly ttlMs?: number;
  /** Credentials held per kind; the least recently used go first. Default 10000. */
  readonly maxEntries?: number;
}

/** A credential row as cached: its user, and the ids revocations name it by. */
type CredentialRow = ApiTokenWithUserRow | UserSessionWithUserRow;

/**
 * Tokens and sessions served from memory, so that an authenticated request costs no query when warm, with
 * revocation as immediate as without a cache:
 * - every `auth:revoked` notification (the database triggers of migrations 0007 and 0012 send one for
 *   every token or session deleted, expiry changed, user disabled, deleted, renamed or given another role,
 *   whoever wrote: the API, the CLI or psql) drops what it names, and fences reads in flight so that a
 *   read that began before the write cannot put the old row back;
 * - the listener-down rule: while the notification listener is disconnected nothing is served from
 *   memory (every request reads the database, as without a cache), and on reconnect everything is dropped
 *   (notifications may have been missed).
 * Unknown public ids are never cached (a guesser cannot fill memory).
 */
export class CredentialCache implements CredentialReader {
  readonly #store: Store;
  readonly #tokens: LoadingCache<string, ApiTokenWithUserRow>;
  readonly #sessions: LoadingCache<string, UserSessionWithUserRow>;
  /** Public ids held (or loading) per user, for revocations that name a user. */
  readonly #byUser = new Map<string, Set<string>>();
  /** Public ids whose read is in flight: any revocation fences them (their rows are not known yet). */
  readonly #loading = { token: new Set<string>(), session: new Set<string>() };
  readonly #maxEntries: number;
  #listening = false;

  constructor(store: Store, options: CredentialCacheOptions = {}) {
    this.#store = store;
    this.#maxEntries = options.maxEntries ?? 10_000;
    const cacheOptions = { ttl: options.ttlMs ?? 300_000, negativeTtl: 0, maxEntries: this.#maxEntries };
    this.#tokens = new LoadingCache(
      (publicId) => this.#load('token', publicId, () => store.getApiTokenWithUserByPublicId(publicId)),
      cacheOptions,
    );
    this.#sessions = new LoadingCache(
      (publicId) => this.#load('session', publicId, () => store.getUserSessionWithUserByPublicId(publicId)),
      cacheOptions,
    );
  }

  /**
   * Connects the cache to the revocation notifications and the listener's state; until then (and after
   * the returned stop) it serves nothing from memory.
   */
  async start(pubsub: Pubsub): Promise<() => Promise<void>> {
    const stopRevocations = await subscribeToRevocations(pubsub, (revocation) => this.revoke(revocation));
    const removeConnection = pubsub.onConnectionChange((connected) => this.#setListening(connected));
    this.#setListening(pubsub.connected);
    return async () => {
      removeConnection();
      this.#setListening(false);
      await stopRevocations();
    };
  }

  async apiToken(publicId: string): Promise<ApiTokenWithUserRow | undefined> {
    if (!this.#listening) return this.#store.getApiTokenWithUserByPublicId(publicId);
    return (await this.#tokens.get(publicId)) as ApiTokenWithUserRow | undefined;
  }

  async session(publicId: string): Promise<UserSessionWithUserRow | undefined> {
    if (!this.#listening) return this.#store.getUserSessionWithUserByPublicId(publicId);
    return (await this.#sessions.get(publicId)) as UserSessionWithUserRow | undefined;
  }

  forget(kind: 'token' | 'session', publicId: string): void {
    this.#cacheOf(kind).invalidate(publicId);
  }

  /** Drops what a revocation names (see the class comment); `all` drops everything. */
  revoke(revocation: Revocation): void {
    if (revocation.kind === 'all') {
      this.#dropAll();
      return;
    }
    // The row of a read in flight is not known yet: it may be the one revoked.
    for (const kind of ['token', 'session'] as const) {
      for (const publicId of this.#loading[kind]) this.#cacheOf(kind).invalidate(publicId);
    }
    if (revocation.kind === 'token' || revocation.kind === 'session') {
      // Without the public id (a notification from a build before migration 0012): all of the kind.
      if (revocation.publicId === undefined) this.#cacheOf(revocation.kind).invalidateAll();
      else this.#cacheOf(revocation.kind).invalidate(revocation.publicId);
      return;
    }
    for (const publicId of this.#byUser.get(revocation.id) ?? []) {
      this.#tokens.invalidate(publicId);
      this.#sessions.invalidate(publicId);
    }
    this.#byUser.delete(revocation.id);
  }

  /** Hits and loads of each kind (for tests and metrics). */
  stats(): { tokens: CacheStats; sessions: CacheStats } {
    return { tokens: this.#tokens.stats(), sessions: this.#sessions.stats() };
  }

  async #load<Row extends CredentialRow>(
    kind: 'token' | 'session',
    publicId: string,
    read: () => Promise<Row | undefined>,
  ): Promise<Row | typeof NOT_FOUND> {
    this.#loading[kind].add(publicId);
    try {
      const row = await read();
      if (!row) return NOT_FOUND;
      this.#index(row.userId, publicId);
      return row;
    } finally {
      this.#loading[kind].delete(publicId);
    }
  }

  #index(userId: string, publicId: string): void {
    // Evicted entries leave their ids here; past twice the entries held, start the index afresh (and the
    // caches with it, so that nothing held is missing from the index).
    if (this.#byUser.size > 2 * this.#maxEntries) this.#dropAll();
    let held = this.#byUser.get(userId);
    if (!held) {
      held = new Set();
      this.#byUser.set(userId, held);
    }
    held.add(publicId);
  }

  #setListening(listening: boolean): void {
    // Entries held while notifications could be missed are not trusted again: drop them either way.
    if (listening !== this.#listening) this.#dropAll();
    this.#listening = listening;
  }

  #dropAll(): void {
    this.#tokens.invalidateAll();
    this.#sessions.invalidateAll();
    this.#byUser.clear();
  }

  #cacheOf(kind: 'token' | 'session'): LoadingCache<string, ApiTokenWithUserRow | UserSessionWithUserRow> {
    return (kind === 'token' ? this.#tokens : this.#sessions) as LoadingCache<
      string,
      ApiTokenWithUserRow | UserSessionWithUserRow
    >;
  }
}

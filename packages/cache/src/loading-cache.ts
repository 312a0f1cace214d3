import type { Clock } from './clock.js';
import { type DeepReadonly, deepFreeze } from './deep-freeze.js';
import type { Loader } from './loader.js';
import { type DefinedValue, NOT_FOUND, type NotFound } from './not-found.js';
import { type CacheOptions, type ResolvedCacheOptions, resolveCacheOptions } from './options.js';
import { RecencyList, type RecencyNode } from './recency-list.js';
import { type LoadOwner, SharedLoad } from './shared-load.js';
import type { CacheStats } from './stats.js';

/** Per-call options of `get`. */
export interface GetOptions {
  /**
   * Stop waiting when this aborts: the call rejects with `signal.reason` at once. Other callers waiting for
   * the same load are unaffected; the load itself is aborted only when every waiter has gone. An already
   * aborted signal rejects without reading the cache.
   */
  readonly signal?: AbortSignal | undefined;
}

/** What an entry holds: a frozen value, or the fact that there is none. */
type Stored<V> = DeepReadonly<V> | NotFound;
/** What `get` resolves to: the value, or `undefined` for not found. */
type Answer<V> = DeepReadonly<V> | undefined;
type Load<K, V> = SharedLoad<K, V | NotFound, Answer<V>>;

/** One cached outcome for one key; also a node of the LRU list. */
class Entry<K, V> implements RecencyNode<Entry<K, V>> {
  newer: Entry<K, V> | undefined = undefined;
  older: Entry<K, V> | undefined = undefined;

  constructor(
    readonly key: K,
    /** The outcome, for `peek`. */
    public stored: Stored<V>,
    /**
     * The same outcome as an already-settled promise, created once per stored outcome (it is the load's own
     * result promise) and handed to every `get` that hits: a hit allocates nothing.
     */
    public answer: Promise<Answer<V>>,
    /** Fresh while `clock.now() < expiresAt`. */
    public expiresAt: number,
    /** Servable as stale (while a refresh runs) while `clock.now() < staleUntil`. */
    public staleUntil: number,
  ) {}
}

/**
 * A keyed loading cache: `get(key)` answers from memory when it can and runs the loader when it cannot.
 *
 * Guarantees:
 * - **Coalescing**: concurrent misses for one key run the loader once and share its outcome.
 * - **Fencing**: an `invalidate(key)` or `invalidateAll()` that happens while a load is in flight keeps that
 *   load's outcome out of the cache, and callers that arrive after the invalidation start a fresh load instead
 *   of joining the old one. Callers that were already waiting still get the old load's outcome: they asked
 *   before the invalidation.
 * - **Cancellation**: a caller whose signal aborts is rejected at once with the signal's reason; the loader's
 *   own signal aborts only when every waiter has gone. One caller's abort never fails another.
 * - **Three outcomes**: a value (cached for `ttl`), {@link NOT_FOUND} (cached for `negativeTtl`, surfaced as
 *   `undefined`), or an error (never cached; every waiter of that load gets the same error).
 * - **Immutability without copies**: a value is deep-frozen once when stored and then handed out by reference
 *   as {@link DeepReadonly}.
 * - **Bounded**: at most `maxEntries` entries, least recently used evicted first. Nothing per key outlives its
 *   entry: in-flight loads are tracked only while in flight, and there is no per-key generation table.
 *
 * Keys are compared like `Map` keys (SameValueZero): use strings or numbers rather than fresh objects.
 *
 * @typeParam K the key type.
 * @typeParam V the value type; it cannot include `undefined`, which `get` reserves for "not found".
 */
export class LoadingCache<K, V extends DefinedValue> {
  readonly #loader: Loader<K, V>;
  readonly #options: ResolvedCacheOptions;
  readonly #clock: Clock;
  readonly #entries = new Map<K, Entry<K, V>>();
  readonly #recency = new RecencyList<Entry<K, V>>();
  /**
   * The load each key's new callers should join. Fencing works by identity: an invalidation removes the load
   * from this map, and a settling load stores its outcome only if it is still the one registered for its key.
   * A generation counter per key would do the same but would have to outlive entries; this map only ever
   * holds loads that are in flight.
   */
  readonly #inFlight = new Map<K, Load<K, V>>();
  readonly #loadOwner: LoadOwner<K, V | NotFound, Answer<V>>;

  // Counters are plain integer fields: cheap enough to leave on.
  #hits = 0;
  #staleHits = 0;
  #misses = 0;
  #coalesced = 0;
  #loads = 0;
  #loadErrors = 0;
  #abandonedLoads = 0;
  #fencedDiscards = 0;
  #invalidations = 0;
  #evictions = 0;

  /**
   * @param loader produces the value for a key; see {@link Loader}.
   * @param options ttl (required), negativeTtl, staleWhileRevalidate, maxEntries and clock; see
   *   {@link CacheOptions}.
   * @throws {TypeError | RangeError} when the loader is not a function or an option is invalid.
   */
  constructor(loader: Loader<K, V>, options: CacheOptions) {
    if (typeof loader !== 'function') {
      throw new TypeError(`@chatd/cache: loader must be a function, got ${typeof loader}`);
    }
    this.#loader = loader;
    this.#options = resolveCacheOptions(options);
    this.#clock = this.#options.clock;
    this.#loadOwner = {
      run: (key, context) => this.#loader(key, context),
      fulfilled: (load, outcome) => this.#loadFulfilled(load, outcome),
      rejected: (load) => this.#loadRejected(load),
      abandoned: (load) => this.#loadAbandoned(load),
    };
  }

  /** The validated options this cache runs with, defaults filled in (frozen). */
  get options(): ResolvedCacheOptions {
    return this.#options;
  }

  /**
   * The value for `key`: from the cache when fresh, otherwise from the loader (joining a load already in
   * flight for this key, if any).
   *
   * @returns a promise of the value (deep-frozen, shared by reference), or of `undefined` when the loader said
   *   {@link NOT_FOUND}. It rejects with the loader's error, or with `options.signal.reason` if that aborts
   *   first.
   */
  get(key: K, options?: GetOptions): Promise<Answer<V>> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      // The hit path: one map lookup, one clock read, a few pointer writes, and a promise made at store time.
      const now = this.#clock.now();
      if (now < entry.expiresAt) {
        this.#hits++;
        this.#recency.touch(entry);
        return entry.answer;
      }
      if (now < entry.staleUntil) {
        this.#staleHits++;
        this.#recency.touch(entry);
        this.#refreshInBackground(key);
        return entry.answer;
      }
      this.#removeEntry(entry);
    }
    this.#misses++;
    let load = this.#inFlight.get(key);
    if (load === undefined) load = this.#startLoad(key);
    else this.#coalesced++;
    return load.join(signal);
  }

  /**
   * What the cache holds for `key` right now, synchronously and without loading: for hot paths that can
   * fall back to `get`. A fresh hit counts in `hits` and marks the entry as recently used.
   *
   * @returns the fresh value; {@link NOT_FOUND} when "not found" is what is cached; `undefined` when nothing
   *   fresh is cached (never cached, expired — stale included — invalidated, evicted, or still loading).
   */
  peek(key: K): Stored<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || !(this.#clock.now() < entry.expiresAt)) return undefined;
    this.#hits++;
    this.#recency.touch(entry);
    return entry.stored;
  }

  /**
   * Forgets `key`: drops its entry and fences the load in flight for it, if any. That load's outcome will
   * not be cached (its current waiters still get it), and the next `get` starts a fresh load.
   */
  invalidate(key: K): void {
    this.#invalidations++;
    // Unregistering is the fence: see #inFlight.
    this.#inFlight.delete(key);
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#removeEntry(entry);
  }

  /** Forgets every key: drops all entries and fences every load in flight, as {@link invalidate} does. */
  invalidateAll(): void {
    this.#invalidations++;
    this.#inFlight.clear();
    this.#entries.clear();
    this.#recency.clear();
  }

  /** A snapshot of the counters (a new frozen object each call). */
  stats(): CacheStats {
    return Object.freeze({
      hits: this.#hits,
      staleHits: this.#staleHits,
      misses: this.#misses,
      coalesced: this.#coalesced,
      loads: this.#loads,
      loadErrors: this.#loadErrors,
      abandonedLoads: this.#abandonedLoads,
      fencedDiscards: this.#fencedDiscards,
      invalidations: this.#invalidations,
      evictions: this.#evictions,
      size: this.#entries.size,
      loading: this.#inFlight.size,
    });
  }

  #startLoad(key: K): Load<K, V> {
    this.#loads++;
    const load: Load<K, V> = new SharedLoad(key, this.#loadOwner);
    // Registered after the loader has been called: a loader that synchronously calls get() for its own key
    // then recurses and fails loudly, instead of joining itself and never settling.
    this.#inFlight.set(key, load);
    return load;
  }

  #refreshInBackground(key: K): void {
    if (this.#inFlight.has(key)) return;
    // The refresh holds a reference of its own (it joins without a signal), so callers that join it later and
    // then abort can never cancel it. Its error is counted and dropped: the stale entry keeps being served.
    this.#startLoad(key).join(undefined).catch(ignore);
  }

  #loadFulfilled(load: Load<K, V>, outcome: V | NotFound): Answer<V> {
    const key = load.key;
    // Fencing: only the load still registered for its key may store. An invalidation (or every waiter
    // leaving) unregistered it, and by then a newer load may own the key: an old outcome must never land.
    const isCurrent = this.#inFlight.get(key) === load;
    if (isCurrent) this.#inFlight.delete(key);
    let stored: Stored<V>;
    try {
      if (outcome === undefined) {
        throw new TypeError(
          `@chatd/cache: the loader resolved undefined for key ${String(key)}; resolve NOT_FOUND when there is no value`,
        );
      }
      stored = outcome === NOT_FOUND ? NOT_FOUND : deepFreeze(outcome);
    } catch (error) {
      if (!load.abandoned) this.#loadErrors++;
      throw error;
    }
    if (isCurrent) this.#store(key, stored, load.result);
    else if (!load.abandoned) this.#fencedDiscards++;
    return stored === NOT_FOUND ? undefined : stored;
  }

  #loadRejected(load: Load<K, V>): void {
    if (this.#inFlight.get(load.key) === load) this.#inFlight.delete(load.key);
    // An abandoned load's error (usually the AbortError we caused) reaches nobody: not a load error.
    if (!load.abandoned) this.#loadErrors++;
  }

  #loadAbandoned(load: Load<K, V>): void {
    this.#abandonedLoads++;
    if (this.#inFlight.get(load.key) === load) this.#inFlight.delete(load.key);
  }

  #store(key: K, stored: Stored<V>, answer: Promise<Answer<V>>): void {
    const ttl = stored === NOT_FOUND ? this.#options.negativeTtl : this.#options.ttl;
    const expiresAt = this.#clock.now() + ttl;
    const staleUntil = expiresAt + this.#options.staleWhileRevalidate;
    let entry = this.#entries.get(key);
    if (ttl === 0 && this.#options.staleWhileRevalidate === 0) {
      // Nothing to keep: the load still coalesced its callers, and that is all a zero ttl asks for.
      if (entry !== undefined) this.#removeEntry(entry);
      return;
    }
    if (entry !== undefined) {
      // Replacing a stale or expired entry: refresh it in place.
      entry.stored = stored;
      entry.answer = answer;
      entry.expiresAt = expiresAt;
      entry.staleUntil = staleUntil;
      this.#recency.touch(entry);
      return;
    }
    entry = new Entry(key, stored, answer, expiresAt, staleUntil);
    this.#entries.set(key, entry);
    this.#recency.pushNewest(entry);
    while (this.#entries.size > this.#options.maxEntries) {
      const oldest = this.#recency.oldest!;
      this.#removeEntry(oldest);
      this.#evictions++;
    }
  }

  #removeEntry(entry: Entry<K, V>): void {
    this.#entries.delete(entry.key);
    this.#recency.remove(entry);
  }
}

function ignore(): void {}

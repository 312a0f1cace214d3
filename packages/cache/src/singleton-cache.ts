import type { DeepReadonly } from './deep-freeze.js';
import type { LoadContext } from './loader.js';
import { type GetOptions, LoadingCache } from './loading-cache.js';
import type { DefinedValue, NotFound } from './not-found.js';
import type { CacheOptions, ResolvedCacheOptions } from './options.js';
import type { CacheStats } from './stats.js';

/** Produces the one value of a {@link SingletonCache}, or {@link NOT_FOUND}. See {@link Loader}. */
export type SingletonLoader<V> = (context: LoadContext) => Promise<V | NotFound>;

/** Options of a {@link SingletonCache}: those of {@link CacheOptions} that make sense for one entry. */
export type SingletonCacheOptions = Omit<CacheOptions, 'maxEntries'>;

/** The only key of the keyed cache a singleton is built on. */
const THE_VALUE = 'value';

/**
 * A loading cache for one value, such as "the enabled providers": the same guarantees as
 * {@link LoadingCache} (coalescing, fencing, shared cancellation, frozen values, counters), without a key.
 *
 * @typeParam V the value type; it cannot include `undefined`, which `get` reserves for "not found".
 */
export class SingletonCache<V extends DefinedValue> {
  readonly #cache: LoadingCache<typeof THE_VALUE, V>;

  /**
   * @param loader produces the value; see {@link SingletonLoader}.
   * @param options ttl (required), negativeTtl, staleWhileRevalidate and clock; see {@link CacheOptions}.
   * @throws {TypeError | RangeError} when the loader is not a function or an option is invalid.
   */
  constructor(loader: SingletonLoader<V>, options: SingletonCacheOptions) {
    if (typeof loader !== 'function') {
      throw new TypeError(`@chatd/cache: loader must be a function, got ${typeof loader}`);
    }
    this.#cache = new LoadingCache((_key, context) => loader(context), { ...options, maxEntries: 1 });
  }

  /** The validated options this cache runs with, defaults filled in (frozen); `maxEntries` is always 1. */
  get options(): ResolvedCacheOptions {
    return this.#cache.options;
  }

  /** The value, cached or loaded; `undefined` when the loader said not found. See {@link LoadingCache.get}. */
  get(options?: GetOptions): Promise<DeepReadonly<V> | undefined> {
    return this.#cache.get(THE_VALUE, options);
  }

  /** The fresh value, {@link NOT_FOUND}, or `undefined` if nothing fresh is cached. See {@link LoadingCache.peek}. */
  peek(): DeepReadonly<V> | NotFound | undefined {
    return this.#cache.peek(THE_VALUE);
  }

  /** Drops the value and fences a load in flight. See {@link LoadingCache.invalidate}. */
  invalidate(): void {
    this.#cache.invalidate(THE_VALUE);
  }

  /** A snapshot of the counters. See {@link LoadingCache.stats}. */
  stats(): CacheStats {
    return this.#cache.stats();
  }
}

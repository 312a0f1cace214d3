import { type Clock, systemClock } from './clock.js';

/** Per-cache settings. All durations are in milliseconds. */
export interface CacheOptions {
  /** How long a found value stays fresh. `Infinity` keeps it until it is invalidated or evicted. Required. */
  readonly ttl: number;
  /** How long a {@link NOT_FOUND} outcome stays cached. Defaults to `ttl`; `0` disables negative caching. */
  readonly negativeTtl?: number;
  /**
   * For how long after an entry expires `get` may still answer with it at once while one background load
   * refreshes it (stale-while-revalidate). The refresh is coalesced and fenced like any load, and an error in
   * it is counted and dropped (the stale entry keeps being served until this window closes). Defaults to `0`.
   */
  readonly staleWhileRevalidate?: number;
  /**
   * The most entries kept; beyond it the least recently used entry is evicted. An integer `>= 1`, or
   * `Infinity` for no bound (only for key spaces known to be small). Defaults to {@link DEFAULT_MAX_ENTRIES}.
   */
  readonly maxEntries?: number;
  /** Where time comes from; inject a fake in tests. Defaults to {@link systemClock}. */
  readonly clock?: Clock;
}

/** The options a cache actually runs with: every default filled in, validated, frozen. */
export type ResolvedCacheOptions = Readonly<Required<CacheOptions>>;

/** The `maxEntries` used when none is given. */
export const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * Validates `options` once, fills in defaults and freezes the result.
 *
 * @throws {TypeError} when an option has the wrong type (or `ttl` is missing, or a duration is `NaN`).
 * @throws {RangeError} when a duration is negative, or `maxEntries` is not an integer `>= 1`.
 */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`@chatd/cache: options must be an object, got ${describe(options)}`);
  }
  const ttl = duration('ttl', options.ttl);
  const negativeTtl = options.negativeTtl === undefined ? ttl : duration('negativeTtl', options.negativeTtl);
  const staleWhileRevalidate =
    options.staleWhileRevalidate === undefined
      ? 0
      : duration('staleWhileRevalidate', options.staleWhileRevalidate);
  const maxEntries = options.maxEntries === undefined ? DEFAULT_MAX_ENTRIES : entryLimit(options.maxEntries);
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new TypeError(`@chatd/cache: clock must be an object with a now() method, got ${describe(clock)}`);
  }
  return Object.freeze({ ttl, negativeTtl, staleWhileRevalidate, maxEntries, clock });
}

function duration(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`@chatd/cache: ${name} must be a number of milliseconds, got ${describe(value)}`);
  }
  if (value < 0) {
    throw new RangeError(`@chatd/cache: ${name} must be >= 0 milliseconds (or Infinity), got ${value}`);
  }
  return value;
}

function entryLimit(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`@chatd/cache: maxEntries must be a number, got ${describe(value)}`);
  }
  if (value !== Number.POSITIVE_INFINITY && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`@chatd/cache: maxEntries must be an integer >= 1 (or Infinity), got ${value}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return value === null ? 'null' : typeof value;
}

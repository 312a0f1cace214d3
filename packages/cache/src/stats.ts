/**
 * A snapshot of a cache's counters, taken by `stats()`. Counters only grow (except `size` and `loading`,
 * which are gauges), so a metrics exporter can report deltas between snapshots.
 */
export interface CacheStats {
  /** Reads (`get` or `peek`) answered from a fresh entry, a cached not-found included. */
  readonly hits: number;
  /** `get`s answered from an expired entry inside the `staleWhileRevalidate` window. */
  readonly staleHits: number;
  /** `get`s that had to wait for a load: `misses === coalesced + (loads started by a get)`. */
  readonly misses: number;
  /** Misses that joined a load already in flight instead of starting one. */
  readonly coalesced: number;
  /** Loader calls, background refreshes included. */
  readonly loads: number;
  /** Loads that failed while someone was still waiting for them (errors are never cached). */
  readonly loadErrors: number;
  /** Loads whose signal was aborted because every caller waiting for them had gone. */
  readonly abandonedLoads: number;
  /** Load results kept out of the cache because an invalidation happened while they were in flight. */
  readonly fencedDiscards: number;
  /** Calls to `invalidate` and `invalidateAll`. */
  readonly invalidations: number;
  /** Entries removed to stay within `maxEntries`. */
  readonly evictions: number;
  /** Entries held now (an expired entry is held until it is read, replaced or evicted). */
  readonly size: number;
  /** Loads in flight now that new callers can join. */
  readonly loading: number;
}

import { expect } from 'vitest';
import type { CacheStats } from '../../src/index.js';

const NOTHING_COUNTED: CacheStats = {
  hits: 0,
  staleHits: 0,
  misses: 0,
  coalesced: 0,
  loads: 0,
  loadErrors: 0,
  abandonedLoads: 0,
  fencedDiscards: 0,
  invalidations: 0,
  evictions: 0,
  size: 0,
  loading: 0,
};

/** Asserts every counter exactly: the ones given, and zero for all the others. */
export function expectStats(cache: { stats(): CacheStats }, expected: Partial<CacheStats>): void {
  expect(cache.stats()).toEqual({ ...NOTHING_COUNTED, ...expected });
}

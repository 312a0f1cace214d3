import { describe, expect, it } from 'vitest';
import { LoadingCache, NOT_FOUND } from '../src/index.js';
import { controlledLoader } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

function setup() {
  const control = controlledLoader<string, string>();
  const cache = new LoadingCache(control.loader, { ttl: 60_000, clock: new FakeClock() });
  return { ...control, cache };
}

describe('generation fencing', () => {
  it('keeps the result of a load that was in flight during invalidate(key) out of the cache', async () => {
    const { cache, calls, call } = setup();

    const before = cache.get('k');
    cache.invalidate('k');
    call(0).resolve('old');

    // Its own waiters asked before the invalidation: they get what it loaded.
    expect(await before).toBe('old');
    expect(cache.peek('k')).toBeUndefined();
    expectStats(cache, { misses: 1, loads: 1, fencedDiscards: 1, invalidations: 1 });

    const after = cache.get('k');
    expect(calls).toHaveLength(2);
    call(1).resolve('new');
    expect(await after).toBe('new');
    expect(await cache.get('k')).toBe('new');
    expectStats(cache, { hits: 1, misses: 2, loads: 2, fencedDiscards: 1, invalidations: 1, size: 1 });
  });

  it('starts a fresh load for callers after the invalidation instead of joining the old one', async () => {
    const { cache, calls, call } = setup();

    const before = cache.get('k');
    cache.invalidate('k');
    const after = cache.get('k');

    expect(calls).toHaveLength(2);
    call(0).resolve('old');
    expect(await before).toBe('old');
    call(1).resolve('new');
    expect(await after).toBe('new');
    expectStats(cache, { misses: 2, loads: 2, fencedDiscards: 1, invalidations: 1, size: 1 });
  });

  it('never lets an old load that finishes last overwrite the newer value', async () => {
    const { cache, call } = setup();

    const before = cache.get('k');
    cache.invalidate('k');
    const after = cache.get('k');
    call(1).resolve('new');
    expect(await after).toBe('new');
    call(0).resolve('old');
    expect(await before).toBe('old');

    expect(cache.peek('k')).toBe('new');
    expect(await cache.get('k')).toBe('new');
    expectStats(cache, { hits: 2, misses: 2, loads: 2, fencedDiscards: 1, invalidations: 1, size: 1 });
  });

  it('fences every load in flight on invalidateAll(), and later gets load again', async () => {
    const { cache, calls, call } = setup();

    const a = cache.get('a');
    const b = cache.get('b');
    cache.invalidateAll();
    expectStats(cache, { misses: 2, loads: 2, invalidations: 1 });
    const aAfter = cache.get('a');
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'a']);

    call(0).resolve('old a');
    call(1).resolve('old b');
    expect(await a).toBe('old a');
    expect(await b).toBe('old b');
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBeUndefined();

    call(2).resolve('new a');
    expect(await aAfter).toBe('new a');
    expect(cache.peek('a')).toBe('new a');
    expectStats(cache, { hits: 1, misses: 3, loads: 3, fencedDiscards: 2, invalidations: 1, size: 1 });
  });

  it('drops cached entries on invalidate(key) and invalidateAll()', async () => {
    const { cache, calls } = setup();
    const pending = [cache.get('a'), cache.get('b'), cache.get('c')];
    for (const c of calls) c.resolve(c.key.toUpperCase());
    await Promise.all(pending);

    cache.invalidate('a');
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBe('B');
    cache.invalidateAll();
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('c')).toBeUndefined();
    expectStats(cache, { hits: 1, misses: 3, loads: 3, invalidations: 2 });
  });

  it('does not fence a load of another key', async () => {
    const { cache, call } = setup();

    const pending = cache.get('a');
    cache.invalidate('b');
    call(0).resolve('A');

    expect(await pending).toBe('A');
    expect(cache.peek('a')).toBe('A');
    expectStats(cache, { hits: 1, misses: 1, loads: 1, invalidations: 1, size: 1 });
  });

  it('fences a not-found outcome the same way', async () => {
    const { cache, calls, call } = setup();

    const before = cache.get('k');
    cache.invalidate('k');
    call(0).resolve(NOT_FOUND);
    expect(await before).toBeUndefined();

    const after = cache.get('k');
    expect(calls).toHaveLength(2);
    call(1).resolve('created since');
    expect(await after).toBe('created since');
    expectStats(cache, { misses: 2, loads: 2, fencedDiscards: 1, invalidations: 1, size: 1 });
  });

  it('still delivers an error from a fenced load to its waiters, and counts it as a load error', async () => {
    const { cache, call } = setup();
    const failure = new Error('database down');

    const before = cache.get('k');
    cache.invalidate('k');
    call(0).reject(failure);

    await expect(before).rejects.toBe(failure);
    expectStats(cache, { misses: 1, loads: 1, loadErrors: 1, invalidations: 1 });
  });
});

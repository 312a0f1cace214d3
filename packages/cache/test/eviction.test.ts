import { describe, expect, it } from 'vitest';
import { LoadingCache } from '../src/index.js';
import { controlledLoader } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

describe('bounded size', () => {
  it('keeps size <= 65,536 over one million distinct keys, and keeps nothing else per key', async () => {
    const cache = new LoadingCache(async (key: number) => key * 2, {
      ttl: 60_000,
      maxEntries: 65_536,
      clock: new FakeClock(),
    });

    const batch = 10_000;
    for (let start = 0; start < 1_000_000; start += batch) {
      const gets: Promise<number | undefined>[] = [];
      for (let key = start; key < start + batch; key++) gets.push(cache.get(key));
      await Promise.all(gets);
      expect(cache.stats().size).toBeLessThanOrEqual(65_536);
    }

    expectStats(cache, {
      misses: 1_000_000,
      loads: 1_000_000,
      evictions: 1_000_000 - 65_536,
      size: 65_536,
      loading: 0,
    });
    expect(cache.peek(999_999)).toBe(1_999_998);
    expect(cache.peek(1_000_000 - 65_536)).toBe(2 * (1_000_000 - 65_536));
    expect(cache.peek(1_000_000 - 65_537)).toBeUndefined();
    expect(cache.peek(0)).toBeUndefined();
  }, 60_000);

  it('evicts the least recently used entry, where a hit counts as a use', async () => {
    let loads = 0;
    const cache = new LoadingCache(
      async (key: string) => {
        loads++;
        return key.toUpperCase();
      },
      { ttl: 60_000, maxEntries: 3, clock: new FakeClock() },
    );
    await cache.get('a');
    await cache.get('b');
    await cache.get('c');

    await cache.get('a'); // a is now the most recent: b is the least recently used
    await cache.get('d');

    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBe('A');
    expect(cache.peek('c')).toBe('C');
    expect(cache.peek('d')).toBe('D');
    expect(loads).toBe(4);
    expectStats(cache, { hits: 4, misses: 4, loads: 4, evictions: 1, size: 3 });
  });

  it('counts peek as a use too', async () => {
    const cache = new LoadingCache(async (key: string) => key, {
      ttl: 60_000,
      maxEntries: 2,
      clock: new FakeClock(),
    });
    await cache.get('a');
    await cache.get('b');
    expect(cache.peek('a')).toBe('a');
    await cache.get('c');

    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBe('a');
    expect(cache.peek('c')).toBe('c');
  });

  it('evicts the oldest entry first when nothing is touched, and invalidation frees a slot', async () => {
    const cache = new LoadingCache(async (key: string) => key, {
      ttl: 60_000,
      maxEntries: 2,
      clock: new FakeClock(),
    });
    await cache.get('a');
    await cache.get('b');
    cache.invalidate('a');
    await cache.get('c');
    expect(cache.peek('b')).toBe('b');
    expect(cache.peek('c')).toBe('c');
    expectStats(cache, { hits: 2, misses: 3, loads: 3, invalidations: 1, size: 2 });

    await cache.get('d');
    expect(cache.peek('b')).toBeUndefined();
    expectStats(cache, { hits: 2, misses: 4, loads: 4, invalidations: 1, evictions: 1, size: 2 });
  });

  it('drops an expired entry when it is read, rather than holding it until eviction', async () => {
    const clock = new FakeClock();
    const { loader, call } = controlledLoader<string, string>();
    const cache = new LoadingCache(loader, { ttl: 1_000, clock });

    const first = cache.get('k');
    call(0).resolve('v1');
    await first;
    clock.advance(1_000);
    const second = cache.get('k');
    expectStats(cache, { misses: 2, loads: 2, loading: 1 });
    call(1).reject(new Error('down'));
    await expect(second).rejects.toThrow('down');
    expectStats(cache, { misses: 2, loads: 2, loadErrors: 1 });
  });

  it('uses a bounded default', () => {
    const cache = new LoadingCache(async (key: string) => key, { ttl: 1 });
    expect(cache.options.maxEntries).toBe(10_000);
  });
});

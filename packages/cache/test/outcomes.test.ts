import { describe, expect, it } from 'vitest';
import { type Loader, LoadingCache, NOT_FOUND } from '../src/index.js';
import { controlledLoader } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

describe('errors', () => {
  it('delivers a loader error to every waiter, does not cache it, and loads again on the next get', async () => {
    const { loader, calls, call } = controlledLoader<string, string>();
    const cache = new LoadingCache(loader, { ttl: 60_000, clock: new FakeClock() });
    const failure = new Error('database down');

    const waiters = [
      cache.get('k'),
      cache.get('k', { signal: new AbortController().signal }),
      cache.get('k'),
    ];
    call(0).reject(failure);
    for (const waiter of waiters) await expect(waiter).rejects.toBe(failure);
    expect(cache.peek('k')).toBeUndefined();
    expectStats(cache, { misses: 3, coalesced: 2, loads: 1, loadErrors: 1 });

    const retry = cache.get('k');
    expect(calls).toHaveLength(2);
    call(1).resolve('recovered');
    expect(await retry).toBe('recovered');
    expectStats(cache, { misses: 4, coalesced: 2, loads: 2, loadErrors: 1, size: 1 });
  });

  it('turns a synchronous throw from the loader into a rejection', async () => {
    const failure = new Error('bad key');
    let loads = 0;
    const cache = new LoadingCache<string, string>(
      () => {
        loads++;
        throw failure;
      },
      { ttl: 60_000, clock: new FakeClock() },
    );

    await expect(cache.get('k')).rejects.toBe(failure);
    await expect(cache.get('k')).rejects.toBe(failure);
    expect(loads).toBe(2);
    expectStats(cache, { misses: 2, loads: 2, loadErrors: 2 });
  });

  it('rejects a loader that resolves undefined instead of NOT_FOUND, and caches nothing', async () => {
    const loader = (async () => undefined) as unknown as Loader<string, string>;
    const cache = new LoadingCache(loader, { ttl: 60_000, clock: new FakeClock() });

    await expect(cache.get('k')).rejects.toThrow(/resolved undefined for key k; resolve NOT_FOUND/);
    await expect(cache.get('k')).rejects.toBeInstanceOf(TypeError);
    expectStats(cache, { misses: 2, loads: 2, loadErrors: 2 });
  });
});

describe('expiry', () => {
  it('keeps a found value for ttl and loads again once it has passed', async () => {
    const clock = new FakeClock();
    let version = 0;
    const cache = new LoadingCache(async (key: string) => `${key} v${++version}`, { ttl: 1_000, clock });

    expect(await cache.get('k')).toBe('k v1');
    clock.advance(999);
    expect(await cache.get('k')).toBe('k v1');
    expect(cache.peek('k')).toBe('k v1');
    clock.advance(1);
    expect(cache.peek('k')).toBeUndefined();
    expect(await cache.get('k')).toBe('k v2');
    expectStats(cache, { hits: 2, misses: 2, loads: 2, size: 1 });
  });

  it('keeps a not-found for negativeTtl, independently of ttl', async () => {
    const clock = new FakeClock();
    const exists = new Set<string>();
    let loads = 0;
    const cache = new LoadingCache(
      async (key: string) => {
        loads++;
        return exists.has(key) ? { key } : NOT_FOUND;
      },
      { ttl: 60_000, negativeTtl: 5_000, clock },
    );

    expect(await cache.get('alice')).toBeUndefined();
    exists.add('alice');
    clock.advance(4_999);
    expect(await cache.get('alice')).toBeUndefined();
    expect(cache.peek('alice')).toBe(NOT_FOUND);
    expect(loads).toBe(1);

    clock.advance(1);
    expect(cache.peek('alice')).toBeUndefined();
    const found = await cache.get('alice');
    expect(found).toEqual({ key: 'alice' });
    expect(loads).toBe(2);

    // The found value now lives for ttl, not negativeTtl.
    clock.advance(59_999);
    expect(await cache.get('alice')).toBe(found);
    expect(loads).toBe(2);
    clock.advance(1);
    await cache.get('alice');
    expect(loads).toBe(3);
    expectStats(cache, { hits: 3, misses: 3, loads: 3, size: 1 });
  });

  it('defaults negativeTtl to ttl', async () => {
    const clock = new FakeClock();
    let loads = 0;
    const cache = new LoadingCache(
      async () => {
        loads++;
        return NOT_FOUND;
      },
      { ttl: 2_000, clock },
    );

    expect(cache.options.negativeTtl).toBe(2_000);
    await cache.get('k');
    clock.advance(1_999);
    await cache.get('k');
    expect(loads).toBe(1);
    clock.advance(1);
    await cache.get('k');
    expect(loads).toBe(2);
  });

  it('does not cache not-found when negativeTtl is 0, and caches nothing when ttl is also 0', async () => {
    let loads = 0;
    const cache = new LoadingCache(
      async (key: string) => {
        loads++;
        return key === 'missing' ? NOT_FOUND : key;
      },
      { ttl: 1_000, negativeTtl: 0, clock: new FakeClock() },
    );
    await cache.get('missing');
    await cache.get('missing');
    expect(loads).toBe(2);
    expectStats(cache, { misses: 2, loads: 2 });

    const uncached = controlledLoader<string, string>();
    const coalescingOnly = new LoadingCache(uncached.loader, { ttl: 0, clock: new FakeClock() });
    const both = [coalescingOnly.get('k'), coalescingOnly.get('k')];
    uncached.call(0).resolve('v');
    expect(await Promise.all(both)).toEqual(['v', 'v']);
    expect(coalescingOnly.peek('k')).toBeUndefined();
    expectStats(coalescingOnly, { misses: 2, coalesced: 1, loads: 1 });
  });

  it('never expires with ttl Infinity', async () => {
    const clock = new FakeClock();
    let loads = 0;
    const cache = new LoadingCache(
      async () => {
        loads++;
        return 'forever';
      },
      { ttl: Number.POSITIVE_INFINITY, clock },
    );
    await cache.get('k');
    clock.advance(10 * 365 * 24 * 3_600_000);
    expect(await cache.get('k')).toBe('forever');
    expect(loads).toBe(1);
  });

  it('measures ttl from when the value was stored, not from when the load started', async () => {
    const clock = new FakeClock();
    const { loader, calls, call } = controlledLoader<string, string>();
    const cache = new LoadingCache(loader, { ttl: 1_000, clock });

    const pending = cache.get('k');
    clock.advance(5_000);
    call(0).resolve('slow');
    await pending;
    clock.advance(999);
    expect(await cache.get('k')).toBe('slow');
    expect(calls).toHaveLength(1);
  });
});

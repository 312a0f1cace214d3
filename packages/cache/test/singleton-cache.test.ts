import { describe, expect, it } from 'vitest';
import { NOT_FOUND, type NotFound, SingletonCache } from '../src/index.js';
import { controlledLoader, flushPromises } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

type Providers = { enabled: string[] };

function setup(options: { negativeTtl?: number } = {}) {
  const clock = new FakeClock();
  const control = controlledLoader<void, Providers>();
  const cache = new SingletonCache(
    ({ signal }): Promise<Providers | NotFound> => control.loader(undefined, { signal }),
    {
      ttl: 10_000,
      clock,
      ...options,
    },
  );
  return { clock, cache, ...control };
}

describe('SingletonCache', () => {
  it('coalesces concurrent gets into one load and hands out one frozen value', async () => {
    const { cache, calls, call } = setup();

    const pending = Array.from({ length: 1_000 }, () => cache.get());
    expect(calls).toHaveLength(1);
    call(0).resolve({ enabled: ['openai', 'anthropic'] });
    const values = await Promise.all(pending);

    expect(new Set(values).size).toBe(1);
    expect(values[0]).toEqual({ enabled: ['openai', 'anthropic'] });
    expect(Object.isFrozen(values[0]?.enabled)).toBe(true);
    expect(cache.peek()).toBe(values[0]);
    expectStats(cache, { hits: 1, misses: 1_000, coalesced: 999, loads: 1, size: 1 });
  });

  it('expires after ttl', async () => {
    const { clock, cache, calls, call } = setup();
    const first = cache.get();
    call(0).resolve({ enabled: [] });
    await first;

    clock.advance(9_999);
    await cache.get();
    expect(calls).toHaveLength(1);
    clock.advance(1);
    const second = cache.get();
    expect(calls).toHaveLength(2);
    call(1).resolve({ enabled: ['openai'] });
    expect(await second).toEqual({ enabled: ['openai'] });
  });

  it('fences a load in flight on invalidate, and the next get loads again', async () => {
    const { cache, calls, call } = setup();

    const before = cache.get();
    cache.invalidate();
    const after = cache.get();
    expect(calls).toHaveLength(2);
    call(0).resolve({ enabled: ['old'] });
    call(1).resolve({ enabled: ['new'] });

    expect(await before).toEqual({ enabled: ['old'] });
    expect(await after).toEqual({ enabled: ['new'] });
    await flushPromises();
    expect(cache.peek()).toEqual({ enabled: ['new'] });
    expectStats(cache, { hits: 1, misses: 2, loads: 2, fencedDiscards: 1, invalidations: 1, size: 1 });
  });

  it('shares cancellation the same way: one abort fails only its caller, all aborts cancel the load', async () => {
    const { cache, call } = setup();
    const first = new AbortController();
    const second = new AbortController();

    const a = cache.get({ signal: first.signal });
    const b = cache.get({ signal: second.signal });
    first.abort();
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });
    expect(call(0).signal.aborted).toBe(false);
    second.abort();
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    expect(call(0).signal.aborted).toBe(true);

    const c = cache.get();
    call(1).resolve({ enabled: ['x'] });
    expect(await c).toEqual({ enabled: ['x'] });
    expectStats(cache, { misses: 3, coalesced: 1, loads: 2, abandonedLoads: 1, size: 1 });
  });

  it('caches not-found for negativeTtl and reports it as undefined from get, NOT_FOUND from peek', async () => {
    const { clock, cache, calls, call } = setup({ negativeTtl: 100 });

    const pending = cache.get();
    call(0).resolve(NOT_FOUND);
    expect(await pending).toBeUndefined();
    expect(cache.peek()).toBe(NOT_FOUND);
    clock.advance(100);
    expect(cache.peek()).toBeUndefined();
    void cache.get();
    expect(calls).toHaveLength(2);
  });

  it('does not cache errors', async () => {
    const { cache, calls, call } = setup();
    const failure = new Error('config store unreachable');

    const pending = cache.get();
    call(0).reject(failure);
    await expect(pending).rejects.toBe(failure);
    void cache.get();
    expect(calls).toHaveLength(2);
    expectStats(cache, { misses: 2, loads: 2, loadErrors: 1, loading: 1 });
  });

  it('holds one entry', () => {
    const { cache } = setup();
    expect(cache.options.maxEntries).toBe(1);
    expect(cache.options.ttl).toBe(10_000);
  });
});

import { describe, expect, it } from 'vitest';
import { LoadingCache } from '../src/index.js';
import { controlledLoader } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

interface Provider {
  readonly name: string;
  readonly models: string[];
}

describe('coalescing', () => {
  it('runs the loader once for 10,000 concurrent gets of a cold key, and all get the same frozen value', async () => {
    const { loader, calls, call } = controlledLoader<string, Provider>();
    const cache = new LoadingCache(loader, { ttl: 60_000, clock: new FakeClock() });

    const pending = Array.from({ length: 10_000 }, () => cache.get('openai'));
    expect(calls).toHaveLength(1);
    expectStats(cache, { misses: 10_000, coalesced: 9_999, loads: 1, loading: 1 });

    call(0).resolve({ name: 'openai', models: ['gpt-4o'] });
    const values = await Promise.all(pending);

    const first = values[0];
    expect(first).toEqual({ name: 'openai', models: ['gpt-4o'] });
    expect(values.every((value) => value === first)).toBe(true);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.models)).toBe(true);
    expect(calls).toHaveLength(1);
    expectStats(cache, { misses: 10_000, coalesced: 9_999, loads: 1, size: 1 });
  });

  it('answers later gets from the cache with the same reference', async () => {
    const { loader, calls, call } = controlledLoader<string, Provider>();
    const cache = new LoadingCache(loader, { ttl: 60_000, clock: new FakeClock() });

    const loading = cache.get('openai');
    call(0).resolve({ name: 'openai', models: [] });
    const loaded = await loading;

    expect(await cache.get('openai')).toBe(loaded);
    expect(await cache.get('openai')).toBe(loaded);
    expect(calls).toHaveLength(1);
    expectStats(cache, { hits: 2, misses: 1, loads: 1, size: 1 });
  });

  it('runs one load per key, not one for all keys', async () => {
    const { loader, calls } = controlledLoader<string, string>();
    const cache = new LoadingCache(loader, { ttl: 60_000, clock: new FakeClock() });

    const pending = [cache.get('a'), cache.get('b'), cache.get('a'), cache.get('b')];
    expect(calls.map((c) => c.key)).toEqual(['a', 'b']);
    for (const c of calls) c.resolve(`value of ${c.key}`);

    expect(await Promise.all(pending)).toEqual(['value of a', 'value of b', 'value of a', 'value of b']);
    expectStats(cache, { misses: 4, coalesced: 2, loads: 2, size: 2 });
  });

  it('passes the key and a signal of its own to the loader', async () => {
    const { loader, call } = controlledLoader<number, string>();
    const cache = new LoadingCache(loader, { ttl: 60_000, clock: new FakeClock() });
    const callerSignal = new AbortController().signal;

    const pending = cache.get(42, { signal: callerSignal });

    expect(call(0).key).toBe(42);
    expect(call(0).signal).toBeInstanceOf(AbortSignal);
    expect(call(0).signal).not.toBe(callerSignal);
    call(0).resolve('forty-two');
    expect(await pending).toBe('forty-two');
  });
});

import { describe, expect, it } from 'vitest';
import { LoadingCache } from '../src/index.js';
import { controlledLoader, flushPromises } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

async function warmCache() {
  const clock = new FakeClock();
  const control = controlledLoader<string, string>();
  const cache = new LoadingCache(control.loader, { ttl: 1_000, staleWhileRevalidate: 500, clock });
  const first = cache.get('k');
  control.call(0).resolve('v1');
  await first;
  return { clock, cache, ...control };
}

describe('stale while revalidate', () => {
  it('answers with the stale value at once inside the window, and refreshes it once in the background', async () => {
    const { clock, cache, calls, call } = await warmCache();
    clock.advance(1_000);

    expect(cache.peek('k')).toBeUndefined();
    expect(await cache.get('k')).toBe('v1');
    expect(await cache.get('k')).toBe('v1');
    expect(calls).toHaveLength(2);
    expectStats(cache, { staleHits: 2, misses: 1, loads: 2, size: 1, loading: 1 });

    call(1).resolve('v2');
    await flushPromises();
    expect(await cache.get('k')).toBe('v2');
    clock.advance(999);
    expect(await cache.get('k')).toBe('v2');
    expect(calls).toHaveLength(2);
    expectStats(cache, { hits: 2, staleHits: 2, misses: 1, loads: 2, size: 1 });
  });

  it('waits for a load once the window has closed', async () => {
    const { clock, cache, calls, call } = await warmCache();
    clock.advance(1_500);

    const pending = cache.get('k');
    expect(calls).toHaveLength(2);
    call(1).resolve('v2');
    expect(await pending).toBe('v2');
    expectStats(cache, { misses: 2, loads: 2, size: 1 });
  });

  it('keeps serving the stale value after a failed refresh, and counts the error', async () => {
    const { clock, cache, calls, call } = await warmCache();
    clock.advance(1_200);

    expect(await cache.get('k')).toBe('v1');
    call(1).reject(new Error('upstream down'));
    await flushPromises();
    expectStats(cache, { staleHits: 1, misses: 1, loads: 2, loadErrors: 1, size: 1 });

    expect(await cache.get('k')).toBe('v1');
    expect(calls).toHaveLength(3);
  });

  it('fences the refresh on invalidate and stops serving the stale value', async () => {
    const { clock, cache, calls, call } = await warmCache();
    clock.advance(1_000);

    expect(await cache.get('k')).toBe('v1');
    cache.invalidate('k');
    const afterInvalidate = cache.get('k');
    expect(calls).toHaveLength(3);

    call(1).resolve('refreshed before the invalidation');
    await flushPromises();
    call(2).resolve('v3');
    expect(await afterInvalidate).toBe('v3');
    expect(cache.peek('k')).toBe('v3');
    expectStats(cache, {
      hits: 1,
      staleHits: 1,
      misses: 2,
      loads: 3,
      fencedDiscards: 1,
      invalidations: 1,
      size: 1,
    });
  });

  it('is not cancelled by a caller that joins the refresh and then aborts', async () => {
    const { clock, cache, call } = await warmCache();
    clock.advance(1_000);
    await cache.get('k'); // starts the refresh
    clock.advance(500); // the window closes while the refresh is in flight

    const controller = new AbortController();
    const joined = cache.get('k', { signal: controller.signal });
    controller.abort();
    await expect(joined).rejects.toMatchObject({ name: 'AbortError' });

    expect(call(1).signal.aborted).toBe(false);
    call(1).resolve('v2');
    await flushPromises();
    expect(cache.peek('k')).toBe('v2');
    expectStats(cache, { hits: 1, staleHits: 1, misses: 2, coalesced: 1, loads: 2, size: 1 });
  });
});

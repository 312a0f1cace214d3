import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type LoadContext, LoadingCache } from '../src/index.js';
import { controlledLoader, flushPromises } from './support/controlled-loader.js';
import { expectStats } from './support/expect-stats.js';
import { FakeClock } from './support/fake-clock.js';

function setup() {
  const control = controlledLoader<string, string>();
  const cache = new LoadingCache(control.loader, { ttl: 60_000, clock: new FakeClock() });
  return { ...control, cache };
}

describe('cancellation', () => {
  it('rejects only the caller that aborted; the others still get the value', async () => {
    const { cache, call } = setup();
    const first = new AbortController();
    const second = new AbortController();

    const firstGet = cache.get('k', { signal: first.signal });
    const secondGet = cache.get('k', { signal: second.signal });
    const unsignalledGet = cache.get('k');
    const reason = new Error('client went away');
    first.abort(reason);

    // Promptly: the load has not settled yet.
    await expect(firstGet).rejects.toBe(reason);
    expect(call(0).signal.aborted).toBe(false);

    call(0).resolve('value');
    await expect(secondGet).resolves.toBe('value');
    await expect(unsignalledGet).resolves.toBe('value');
    expect(cache.peek('k')).toBe('value');
    expectStats(cache, { hits: 1, misses: 3, coalesced: 2, loads: 1, size: 1 });
  });

  it("aborts the loader's signal when every caller has aborted", async () => {
    const { cache, call } = setup();
    const first = new AbortController();
    const second = new AbortController();

    const firstGet = cache.get('k', { signal: first.signal });
    const secondGet = cache.get('k', { signal: second.signal });
    first.abort();
    await expect(firstGet).rejects.toMatchObject({ name: 'AbortError' });
    expect(call(0).signal.aborted).toBe(false);

    second.abort();
    await expect(secondGet).rejects.toBe(second.signal.reason);
    expect(call(0).signal.aborted).toBe(true);
    expect(call(0).signal.reason).toBeInstanceOf(DOMException);
    expect(call(0).signal.reason).toMatchObject({ name: 'AbortError' });
    expectStats(cache, { misses: 2, coalesced: 1, loads: 1, abandonedLoads: 1 });
  });

  it('is not poisoned by an earlier abort: a later get starts a fresh load and gets its value', async () => {
    const { cache, calls, call } = setup();
    const controller = new AbortController();

    const abandoned = cache.get('k', { signal: controller.signal });
    controller.abort();
    await expect(abandoned).rejects.toMatchObject({ name: 'AbortError' });

    const later = cache.get('k');
    expect(calls).toHaveLength(2);
    call(1).resolve('fresh');
    expect(await later).toBe('fresh');

    // The abandoned loader ignoring its signal and finishing late must not overwrite anything.
    call(0).resolve('late');
    await flushPromises();
    await expect(cache.get('k')).resolves.toBe('fresh');
    expectStats(cache, { hits: 1, misses: 2, loads: 2, abandonedLoads: 1, size: 1 });
  });

  it('does not count the AbortError of an abandoned load as a load error', async () => {
    const { cache, call } = setup();
    const controller = new AbortController();

    const abandoned = cache.get('k', { signal: controller.signal });
    controller.abort();
    await expect(abandoned).rejects.toMatchObject({ name: 'AbortError' });
    call(0).reject(call(0).signal.reason);
    await flushPromises();
    const later = cache.get('k');
    call(1).resolve('v');
    await later;

    expectStats(cache, { misses: 2, loads: 2, abandonedLoads: 1, size: 1 });
  });

  it('keeps the load alive while a caller without a signal waits', async () => {
    const { cache, call } = setup();
    const controller = new AbortController();

    const unsignalled = cache.get('k');
    const signalled = cache.get('k', { signal: controller.signal });
    controller.abort();
    await expect(signalled).rejects.toMatchObject({ name: 'AbortError' });

    expect(call(0).signal.aborted).toBe(false);
    call(0).resolve('value');
    expect(await unsignalled).toBe('value');
    expectStats(cache, { misses: 2, coalesced: 1, loads: 1, size: 1 });
  });

  it('rejects at once with the reason of an already-aborted signal, without loading or reading', async () => {
    const { cache, calls, call } = setup();
    const reason = new Error('already gone');

    await expect(cache.get('k', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(calls).toHaveLength(0);
    expectStats(cache, {});

    const loading = cache.get('k');
    call(0).resolve('value');
    await loading;
    await expect(cache.get('k', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expectStats(cache, { misses: 1, loads: 1, size: 1 });
  });

  it('ignores an abort that comes after the value arrived', async () => {
    const { cache, call } = setup();
    const controller = new AbortController();

    const pending = cache.get('k', { signal: controller.signal });
    call(0).resolve('value');
    expect(await pending).toBe('value');
    controller.abort();

    expect(call(0).signal.aborted).toBe(false);
    expect(cache.peek('k')).toBe('value');
    expectStats(cache, { hits: 1, misses: 1, loads: 1, size: 1 });
  });

  it("removes its listener from the caller's signal once the load settles", async () => {
    const { cache, call } = setup();
    const requestScoped = new AbortController();

    const pending = [
      cache.get('a', { signal: requestScoped.signal }),
      cache.get('b', { signal: requestScoped.signal }),
    ];
    expect(getEventListeners(requestScoped.signal, 'abort')).toHaveLength(2);
    call(0).resolve('A');
    call(1).reject(new Error('boom'));
    await Promise.allSettled(pending);

    expect(getEventListeners(requestScoped.signal, 'abort')).toHaveLength(0);
  });

  it("cancels a load only when its own waiters are gone, not another key's", async () => {
    const { cache, call } = setup();
    const controller = new AbortController();

    const a = cache.get('a', { signal: controller.signal });
    const b = cache.get('b');
    controller.abort();
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });

    expect(call(0).signal.aborted).toBe(true);
    expect(call(1).signal.aborted).toBe(false);
    call(1).resolve('B');
    expect(await b).toBe('B');
  });

  it('gives a loader that reads its signal only after every caller has gone an already-aborted signal', async () => {
    let context: LoadContext | undefined;
    const cache = new LoadingCache(
      (_key: string, loadContext) => {
        context = loadContext; // not reading context.signal yet
        return new Promise<string>(() => {});
      },
      { ttl: 60_000, clock: new FakeClock() },
    );
    const controller = new AbortController();

    const pending = cache.get('k', { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });

    expect(context?.signal.aborted).toBe(true);
    expect(context?.signal.reason).toMatchObject({ name: 'AbortError' });
    expectStats(cache, { misses: 1, loads: 1, abandonedLoads: 1 });
  });

  it('does not cancel a load that has already produced its outcome when its last caller aborts', async () => {
    let resolveLoad: (value: string) => void = () => {};
    const outcome = new Promise<string>((resolve) => {
      resolveLoad = resolve;
    });
    let loaderSignal: AbortSignal | undefined;
    const cache = new LoadingCache(
      (_key: string, { signal }) => {
        loaderSignal = signal;
        return outcome;
      },
      { ttl: 60_000, clock: new FakeClock() },
    );
    const controller = new AbortController();

    const pending = cache.get('k', { signal: controller.signal });
    // Registered after the cache's own handler: it runs once the outcome has been stored, but before the
    // caller's promise has settled, so the caller still aborts (and gets its reason)...
    void outcome.then(() => controller.abort());
    resolveLoad('value');
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });

    // ...but the finished load is neither aborted nor counted as abandoned, and its value stays cached.
    expect(loaderSignal?.aborted).toBe(false);
    expect(cache.peek('k')).toBe('value');
    expectStats(cache, { hits: 1, misses: 1, loads: 1, size: 1 });
  });
});

import type { NotFound } from '../../src/index.js';

/** One call of a controlled loader, settled by the test when it chooses. */
export interface LoaderCall<K, V> {
  readonly key: K;
  readonly signal: AbortSignal;
  resolve(outcome: V | NotFound): void;
  reject(error: unknown): void;
}

/**
 * A loader whose calls stay pending until the test settles them, so a test can interleave invalidations and
 * aborts with loads deterministically (no timers).
 */
export function controlledLoader<K, V>() {
  const calls: LoaderCall<K, V>[] = [];
  const loader = (key: K, { signal }: { signal: AbortSignal }): Promise<V | NotFound> =>
    new Promise<V | NotFound>((resolve, reject) => {
      calls.push({ key, signal, resolve, reject });
    });
  /** The `index`th call, failing the test if the loader was not called that many times. */
  const call = (index: number): LoaderCall<K, V> => {
    const found = calls[index];
    if (found === undefined) throw new Error(`expected loader call #${index}, got ${calls.length} calls`);
    return found;
  };
  return { loader, calls, call };
}

/**
 * Resolves after every promise callback already queued has run (a macrotask boundary, not a delay). Only
 * for outcomes no caller awaits, such as a background refresh.
 */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

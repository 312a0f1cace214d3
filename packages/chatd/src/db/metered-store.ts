import type { QueryName } from './queries/index.js';
import { QUERY_NAMES, type Store } from './store.js';

/** Receives one observation per query call. */
export interface QueryObserver {
  /** `seconds` is the wall time of the call; `failed` when it threw. */
  observe(query: QueryName, seconds: number, failed: boolean): void;
}

/**
 * Wraps any {@link Store} so that every named query call is reported to `observer` with its latency,
 * including the calls made inside transactions. The wrapper adds no query of its own.
 */
export function createMeteredStore(inner: Store, observer: QueryObserver): Store {
  const store: Record<string, unknown> = {
    transaction: <T>(work: (tx: Store) => Promise<T>) =>
      inner.transaction((tx) => work(createMeteredStore(tx, observer))),
  };
  for (const name of QUERY_NAMES) {
    const query = inner[name] as (...args: unknown[]) => Promise<unknown>;
    store[name] = async (...args: unknown[]) => {
      const started = performance.now();
      let failed = false;
      try {
        return await query(...args);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        observer.observe(name, (performance.now() - started) / 1000, failed);
      }
    };
  }
  return Object.freeze(store) as unknown as Store;
}

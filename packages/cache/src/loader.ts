import type { NotFound } from './not-found.js';

/** What a loader receives besides the key. */
export interface LoadContext {
  /**
   * Aborts when every caller waiting for this load has gone (each of them aborted its own signal). It is the
   * load's own signal, never a caller's: pass it on to `fetch`, database queries and the like. It is created
   * on first access, so a loader that never reads it does not pay for it.
   */
  readonly signal: AbortSignal;
}

/**
 * Produces the value for `key`: the value itself, or {@link NOT_FOUND} when there is none. A rejection is an
 * error: it reaches every caller waiting for this load and is never cached. Resolving `undefined` is a
 * contract violation and is treated as an error (resolve `NOT_FOUND` instead).
 */
export type Loader<K, V> = (key: K, context: LoadContext) => Promise<V | NotFound>;

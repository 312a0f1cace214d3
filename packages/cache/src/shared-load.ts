import type { LoadContext } from './loader.js';

/**
 * What a {@link SharedLoad} asks of the cache that owns it. One object per cache serves all of its loads, so
 * starting a load allocates no closures.
 */
export interface LoadOwner<K, R, T> {
  /** Calls the user's loader. */
  run(key: K, context: LoadContext): Promise<R>;
  /** Turns the loader's outcome into what waiters get (storing it if appropriate); may throw. */
  fulfilled(load: SharedLoad<K, R, T>, outcome: R): T;
  /** Bookkeeping for a failed load; the error then reaches every waiter. */
  rejected(load: SharedLoad<K, R, T>, error: unknown): void;
  /** The last waiter has gone and the loader's signal is about to abort: stop new callers joining. */
  abandoned(load: SharedLoad<K, R, T>): void;
}

/**
 * One run of a loader shared by every caller waiting for it, with reference-counted cancellation.
 *
 * The loader gets an AbortSignal of its own, not any caller's: callers come and go independently, and one
 * caller giving up must not fail the others. Each caller that joins with a signal holds one reference and
 * drops it when its signal aborts (it is rejected with its own signal's reason at once). The loader's signal
 * aborts only when the last reference is dropped, that is when nobody is left to use the result. A caller
 * without a signal can never leave, so its reference is never dropped.
 */
export class SharedLoad<K, R, T> {
  /** The key being loaded. */
  readonly key: K;
  /** Settles with the load's outcome; shared by every caller that joined without a signal. */
  readonly result: Promise<T>;
  readonly #owner: LoadOwner<K, R, T>;
  /** Created on first use: an AbortSignal costs microseconds and garbage, and many loaders never read it. */
  #controller: AbortController | undefined = undefined;
  #waiters = 0;
  #settled = false;
  #abandoned = false;

  /** Calls the owner's loader at once with this load's own signal; a synchronous throw becomes a rejection. */
  constructor(key: K, owner: LoadOwner<K, R, T>) {
    this.key = key;
    this.#owner = owner;
    let pending: Promise<R>;
    try {
      pending = owner.run(key, new LazyLoadContext(this));
    } catch (error) {
      pending = Promise.reject(error);
    }
    // `#settled` flips in the same microtask as the owner's bookkeeping, so no abort can slip in between the
    // outcome being stored and the load counting as finished.
    this.result = Promise.resolve(pending).then(
      (outcome) => {
        this.#settled = true;
        return owner.fulfilled(this, outcome);
      },
      (error: unknown) => {
        this.#settled = true;
        owner.rejected(this, error);
        throw error;
      },
    );
  }

  /** The loader's own signal; see {@link LoadContext.signal}. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abandoned) this.#controller.abort(abandonedReason());
    }
    return this.#controller.signal;
  }

  /** True once every waiter had gone and the loader's signal was aborted. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /**
   * Adds a waiter and returns what it should await.
   *
   * Without a signal the waiter can never leave, so it gets the shared {@link result} itself (no allocation
   * per waiter, which is what keeps a 10,000-caller stampede cheap). With a signal it gets a promise of its
   * own that rejects with `signal.reason` as soon as the signal aborts, whatever the load is doing.
   * The caller must have checked that `signal` is not already aborted.
   */
  join(signal: AbortSignal | undefined): Promise<T> {
    this.#waiters++;
    if (signal === undefined) return this.result;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        this.#leave();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // Whichever comes first wins; the later resolve/reject is a no-op. Removing the listener on settle
      // keeps a long-lived signal (one per request, say, used for many gets) from accumulating listeners.
      this.result.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  #leave(): void {
    // A load that has already settled has nothing left to cancel: the abort is this caller's business only.
    if (this.#settled) return;
    this.#waiters--;
    if (this.#waiters > 0) return;
    this.#abandoned = true;
    // Unregister first, so that a caller arriving from inside an abort listener starts a fresh load instead
    // of joining this one, which is about to fail with an AbortError.
    this.#owner.abandoned(this);
    // If the loader has not read its signal yet, it will find it already aborted when it does.
    this.#controller?.abort(abandonedReason());
  }
}

/** The {@link LoadContext} of one load: one small object, with the signal made on first access. */
class LazyLoadContext implements LoadContext {
  readonly #load: SharedLoad<unknown, unknown, unknown>;

  constructor(load: SharedLoad<unknown, unknown, unknown>) {
    this.#load = load;
  }

  get signal(): AbortSignal {
    return this.#load.signal;
  }
}

function abandonedReason(): DOMException {
  return new DOMException('Every caller waiting for this load has gone away', 'AbortError');
}

import { abortableSleep } from '../util/abortable-sleep.js';
/**
 * Wakes a loop that waits for work. A ring while nobody waits is remembered, so the next wait returns at
 * once: a ring is never lost, at worst the loop checks for work once more than needed.
 */
export class Doorbell {
  #rung = false;
  #wake: (() => void) | undefined;

  /** Wakes the current waiter, or the next one. */
  ring(): void {
    this.#rung = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves at the next ring (at once if rung since the last wait). Only one waiter at a time. */
  wait(): Promise<void> {
    if (this.#rung) {
      this.#rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#rung = false;
        resolve();
      };
    });
  }
}

/** Resolves after `ms`, or as soon as `signal` aborts; clears its timer either way. */
export const sleep = abortableSleep;

/**
 * Resolves with 'event' when the first of `events` resolves, or with 'timeout' after `timeoutMs`
 * (never, when undefined). Clears its timer either way. `events` must not reject.
 */
export async function firstOf(
  events: readonly Promise<unknown>[],
  timeoutMs?: number,
): Promise<'event' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout =
    timeoutMs === undefined
      ? []
      : [new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')))];
  try {
    return await Promise.race([...events.map((event) => event.then(() => 'event' as const)), ...timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise with its settle functions. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Creates a {@link Deferred} (Promise.withResolvers is Node 22+). */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

import { Cleanups } from './cleanups.js';

/** A scale test run was stopped through its signal. */
export class ScaleTestStoppedError extends Error {
  constructor() {
    super('the scale test was stopped');
    this.name = 'ScaleTestStoppedError';
  }
}

/** How long a stopped run waits for starts still in flight (each has a time-out of its own). */
const STOP_GRACE_MS = 90_000;

/**
 * Runs a measurement that starts processes and scratch files, registering the undo of each in the
 * {@link Cleanups} it is given. Whatever happens (a failure, or `signal`), everything it started is
 * stopped before this settles; a stopped run rejects with {@link ScaleTestStoppedError}.
 */
export async function runUntilStopped<T>(
  signal: AbortSignal | undefined,
  measure: (cleanups: Cleanups) => Promise<T>,
): Promise<T> {
  const cleanups = new Cleanups();
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ScaleTestStoppedError());
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  const measurement = measure(cleanups);
  // When stopped, the measurement is abandoned mid-way: its later failure (its servers are gone) is moot.
  measurement.catch(() => {});
  try {
    return await Promise.race([measurement, stopped]);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await cleanups.run();
    if (signal?.aborted) {
      // A start in flight when the run stopped (PostgreSQL, a replica) registers its clean-up when it is
      // up, which then runs at once; the measurement stops at its next check. Wait for both, so that
      // nothing this run started outlives it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        measurement.catch(() => {}),
        new Promise((resolve) => {
          timer = setTimeout(resolve, STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      await cleanups.run();
    }
  }
}

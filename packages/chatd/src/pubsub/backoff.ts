/**
 * How a delay is randomized: `full` picks uniformly in [0, d), `equal` in [d/2, d), `none` uses d.
 * Jitter spreads the reconnects of many replicas after a shared outage.
 */
export type Jitter = 'full' | 'equal' | 'none';

/** Capped exponential backoff: attempt n waits up to min(maxDelayMs, initialDelayMs * multiplier^n). */
export interface BackoffOptions {
  /** The ceiling of the first retry's delay; default 100 ms. */
  readonly initialDelayMs?: number;
  /** The cap of every delay; default 5000 ms. */
  readonly maxDelayMs?: number;
  /** Growth per attempt; default 2. */
  readonly multiplier?: number;
  /** Default `full`. */
  readonly jitter?: Jitter;
}

/** {@link BackoffOptions} with defaults filled in. */
export type ResolvedBackoffOptions = Readonly<Required<BackoffOptions>>;

/** The defaults: 100 ms doubling up to 5 s, full jitter. */
export const DEFAULT_BACKOFF: ResolvedBackoffOptions = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitter: 'full',
});

const JITTERS: readonly Jitter[] = ['full', 'equal', 'none'];

/** Fills in defaults and validates; throws RangeError for an invalid value. */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoffOptions {
  const resolved = {
    initialDelayMs: options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
    maxDelayMs: options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
    multiplier: options.multiplier ?? DEFAULT_BACKOFF.multiplier,
    jitter: options.jitter ?? DEFAULT_BACKOFF.jitter,
  };
  for (const name of ['initialDelayMs', 'maxDelayMs'] as const) {
    const value = resolved[name];
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`backoff: ${name} must be a duration in ms >= 0, got ${String(value)}`);
    }
  }
  if (resolved.maxDelayMs < resolved.initialDelayMs) {
    throw new RangeError(
      `backoff: maxDelayMs (${resolved.maxDelayMs}) must be >= initialDelayMs (${resolved.initialDelayMs})`,
    );
  }
  if (!(Number.isFinite(resolved.multiplier) && resolved.multiplier >= 1)) {
    throw new RangeError(`backoff: multiplier must be >= 1, got ${String(resolved.multiplier)}`);
  }
  if (!JITTERS.includes(resolved.jitter)) {
    throw new RangeError(
      `backoff: jitter must be one of ${JITTERS.join(', ')}, got ${String(resolved.jitter)}`,
    );
  }
  return Object.freeze(resolved);
}

/**
 * The delay in ms before retry number `attempt` (0 for the first retry). `random` returns a number in
 * [0, 1) like Math.random, injectable for tests.
 */
export function backoffDelay(
  options: ResolvedBackoffOptions,
  attempt: number,
  random: () => number = Math.random,
): number {
  // Math.min keeps huge attempt counts finite: multiplier ** attempt may be Infinity, never NaN (>= 1).
  const ceiling = Math.min(
    options.maxDelayMs,
    options.initialDelayMs * options.multiplier ** Math.max(0, attempt),
  );
  switch (options.jitter) {
    case 'none':
      return ceiling;
    case 'equal':
      return ceiling / 2 + random() * (ceiling / 2);
    case 'full':
      return random() * ceiling;
  }
}

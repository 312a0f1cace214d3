/**
 * A source of the current time in milliseconds. Every expiry decision of a cache reads this clock, so a test
 * can inject a fake one and move time without sleeping.
 */
export interface Clock {
  /** The current time in milliseconds; only differences matter, so any monotonic origin works. */
  now(): number;
}

/** The default clock: wall-clock milliseconds from `Date.now()`. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

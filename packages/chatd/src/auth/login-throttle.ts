import type { Store } from '../db/store.js';
import { RateLimitedError } from '../errors.js';

/** Options of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failed logins per username per window before that username is refused. Default 10. */
  readonly maxFailuresPerUser: number;
  /** Failed logins per client address per window before that address is refused. Default 50. */
  readonly maxFailuresPerAddress: number;
  /** The window, in ms. Default 15 minutes. */
  readonly windowMs: number;
}

export const DEFAULT_LOGIN_THROTTLE_OPTIONS: LoginThrottleOptions = Object.freeze({
  maxFailuresPerUser: 10,
  maxFailuresPerAddress: 50,
  windowMs: 15 * 60_000,
});

/**
 * Limits password guessing per username and per client address, with counters in PostgreSQL: every
 * replica shares them, so adding replicas does not add guesses, and a restart does not reset them.
 * Only failures count; a success clears its username's counter.
 */
export class LoginThrottle {
  readonly #store: Store;
  readonly options: LoginThrottleOptions;

  constructor(store: Store, options: Partial<LoginThrottleOptions> = {}) {
    this.#store = store;
    this.options = Object.freeze({ ...DEFAULT_LOGIN_THROTTLE_OPTIONS, ...options });
  }

  /**
   * Refuses the attempt when either counter is full, before any password is checked.
   * @throws {RateLimitedError} with the time until the fuller window closes.
   */
  async check(username: string, address: string): Promise<void> {
    const keys = keysOf(username, address);
    const rows = await this.#store.getLoginFailures([keys.user, keys.address], this.options.windowMs);
    let retryAfterMs = 0;
    for (const row of rows) {
      const max =
        row.key === keys.user ? this.options.maxFailuresPerUser : this.options.maxFailuresPerAddress;
      if (row.failures >= max) {
        retryAfterMs = Math.max(retryAfterMs, row.windowStart.getTime() + this.options.windowMs - Date.now());
      }
    }
    if (retryAfterMs > 0) {
      throw new RateLimitedError('too many failed logins; try again later', retryAfterMs);
    }
  }

  /** Counts a failed attempt against the username and the address. */
  recordFailure(username: string, address: string): Promise<void> {
    const keys = keysOf(username, address);
    return this.#store.recordLoginFailures([keys.user, keys.address], this.options.windowMs);
  }

  /** Clears the username's counter after a successful login (the address keeps its count). */
  recordSuccess(username: string): Promise<void> {
    return this.#store.clearLoginFailures(keysOf(username, '').user);
  }

  /** Deletes counters whose window closed (housekeeping). */
  deleteStale(): Promise<number> {
    return this.#store.deleteStaleLoginFailures(this.options.windowMs);
  }
}

function keysOf(username: string, address: string): { user: string; address: string } {
  // Usernames are unique case-insensitively; bounded so an absurd one cannot fail the CHECK.
  return { user: `user:${username.toLowerCase().slice(0, 100)}`, address: `addr:${address.slice(0, 100)}` };
}

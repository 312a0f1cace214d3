import { InvalidInputError } from '../errors.js';
import { abortableSleep } from '../util/abortable-sleep.js';

/** How a turn retries transient provider failures (429, 5xx, connection errors). All durations in ms. */
export interface RetryPolicyOptions {
  /** Retries after the first attempt; default 3 (so at most 4 provider calls). 0 disables retrying. */
  readonly maxRetries?: number;
  /** Backoff before the first retry, doubled for each further one (before jitter); default 500. */
  readonly retryBaseDelayMs?: number;
  /** Upper bound of the exponential backoff; default 8,000. */
  readonly retryMaxDelayMs?: number;
  /** Upper bound on how long a provider's `Retry-After` / `retry-after-ms` may make us wait; default 30,000. */
  readonly retryAfterCapMs?: number;
}

/** {@link RetryPolicyOptions} with defaults applied; frozen. */
export type RetryPolicy = Readonly<Required<RetryPolicyOptions>>;

const DEFAULTS: RetryPolicy = Object.freeze({
  maxRetries: 3,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 8_000,
  retryAfterCapMs: 30_000,
});

/** Applies defaults and validates (non-negative integers); throws {@link InvalidInputError}. */
export function resolveRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const policy: { -readonly [K in keyof RetryPolicy]: RetryPolicy[K] } = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof RetryPolicyOptions)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidInputError(`retry option ${key} must be a non-negative integer, got ${String(value)}`);
    }
    policy[key] = value;
  }
  return Object.freeze(policy);
}

/**
 * The wait before retry number `retryNumber` (1 for the first retry): exponential backoff with "equal
 * jitter" (between half and all of the exponential step, so concurrent turns that failed together spread
 * out without ever retrying immediately). A provider's Retry-After, capped, is honoured as a lower bound.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retryNumber: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** (retryNumber - 1));
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.retryAfterCapMs));
}

/**
 * The delay a provider asked for, in ms: `retry-after-ms` (OpenAI's millisecond variant) or
 * `Retry-After` as delta-seconds or an HTTP date. Undefined when absent or unparsable. Header names are
 * expected in lower case, as the AI SDK records them.
 */
export function parseRetryAfterMs(
  headers: Readonly<Record<string, string | undefined>> | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const milliseconds = headers['retry-after-ms']?.trim();
  if (milliseconds && /^\d+(\.\d+)?$/.test(milliseconds)) return Math.ceil(Number(milliseconds));
  const value = headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts (never rejects: the caller checks `signal.aborted`).
 * The timer and the listener are removed either way, so nothing outlives the wait.
 */
export function waitForRetry(ms: number, signal: AbortSignal): Promise<void> {
  return abortableSleep(ms, signal);
}

import { describe, expect, it } from 'vitest';
import { resolveBackoff } from '../../src/pubsub/backoff.js';
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/pubsub/index.js';

describe('backoff', () => {
  it('defaults to 100 ms doubling up to 5 s with full jitter', () => {
    expect(resolveBackoff()).toEqual(DEFAULT_BACKOFF);
    expect(DEFAULT_BACKOFF).toMatchObject({
      initialDelayMs: 100,
      maxDelayMs: 5_000,
      multiplier: 2,
      jitter: 'full',
    });
  });

  it('grows exponentially and is capped', () => {
    const options = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' });
    expect([0, 1, 2, 3, 4, 5, 10_000].map((attempt) => backoffDelay(options, attempt))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('full jitter spans [0, ceiling); equal jitter spans [ceiling / 2, ceiling)', () => {
    const full = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: 'full' });
    const equal = resolveBackoff({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: 'equal' });
    expect(backoffDelay(full, 3, () => 0)).toBe(0);
    expect(backoffDelay(full, 3, () => 0.5)).toBe(400);
    expect(backoffDelay(full, 3, () => 0.999)).toBeCloseTo(799.2);
    expect(backoffDelay(equal, 3, () => 0)).toBe(400);
    expect(backoffDelay(equal, 3, () => 0.5)).toBe(600);
    expect(backoffDelay(equal, 20, () => 0.999)).toBeCloseTo(999.5);
  });

  it('rejects invalid options', () => {
    expect(() => resolveBackoff({ initialDelayMs: -1 })).toThrow(RangeError);
    expect(() => resolveBackoff({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => resolveBackoff({ multiplier: 0.5 })).toThrow(RangeError);
    expect(() => resolveBackoff({ jitter: 'some' as 'full' })).toThrow(RangeError);
  });
});

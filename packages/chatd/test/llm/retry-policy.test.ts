import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { parseRetryAfterMs, resolveRetryPolicy, retryDelayMs } from '../../src/llm/retry-policy.js';

describe('retry policy', () => {
  it('defaults to 3 retries and resolves into a frozen object', () => {
    const policy = resolveRetryPolicy();
    expect(policy).toEqual({
      maxRetries: 3,
      retryBaseDelayMs: 500,
      retryMaxDelayMs: 8_000,
      retryAfterCapMs: 30_000,
    });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(resolveRetryPolicy({ maxRetries: 0 }).maxRetries).toBe(0);
  });

  it('rejects negative or fractional values', () => {
    expect(() => resolveRetryPolicy({ maxRetries: -1 })).toThrow(InvalidInputError);
    expect(() => resolveRetryPolicy({ retryBaseDelayMs: 1.5 })).toThrow('retryBaseDelayMs');
  });

  it('backs off exponentially with equal jitter, up to the maximum', () => {
    const policy = resolveRetryPolicy({ retryBaseDelayMs: 100, retryMaxDelayMs: 1_000 });
    const low = () => 0;
    const high = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((retry) => retryDelayMs(policy, retry, undefined, low))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((retry) => retryDelayMs(policy, retry, undefined, high))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
  });

  it('waits at least as long as Retry-After asks, up to the cap', () => {
    const policy = resolveRetryPolicy({ retryBaseDelayMs: 100, retryAfterCapMs: 5_000 });
    expect(retryDelayMs(policy, 1, 2_000, () => 0)).toBe(2_000);
    expect(retryDelayMs(policy, 1, 60_000, () => 0)).toBe(5_000);
    expect(retryDelayMs(policy, 1, 0, () => 0)).toBe(50);
  });

  it('parses retry-after-ms, Retry-After seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs({ 'retry-after-ms': '1500' }, now)).toBe(1_500);
    expect(parseRetryAfterMs({ 'retry-after': '2' }, now)).toBe(2_000);
    expect(parseRetryAfterMs({ 'retry-after': '0.5' }, now)).toBe(500);
    expect(parseRetryAfterMs({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }, now)).toBe(3_000);
    expect(parseRetryAfterMs({ 'retry-after': 'Tue, 31 Dec 2024 00:00:00 GMT' }, now)).toBe(0);
    expect(parseRetryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfterMs({}, now)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
  });
});

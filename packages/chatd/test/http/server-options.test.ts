import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_TIMEOUTS, resolveHttpServerOptions } from '../../src/http/server.js';

const logger = pino({ level: 'silent' });

describe('resolveHttpServerOptions', () => {
  it('applies the defaults, frozen', () => {
    const resolved = resolveHttpServerOptions({ logger });
    expect(resolved).toMatchObject({
      bodyLimit: 1024 * 1024,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 72_000,
      maxDiscardedBodyBytes: 16 * 1024 * 1024,
    });
    expect(DEFAULT_HTTP_TIMEOUTS).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 72_000,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each([
    [{ bodyLimit: 0 }, /bodyLimit/],
    [{ headersTimeoutMs: 1.5 }, /headersTimeoutMs/],
    [{ requestTimeoutMs: -1 }, /requestTimeoutMs/],
    [{ keepAliveTimeoutMs: Number.NaN }, /keepAliveTimeoutMs/],
    [{ maxDiscardedBodyBytes: 0 }, /maxDiscardedBodyBytes/],
    [{ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }, /headers timeout .* request timeout/],
  ])('refuses %o', (options, message) => {
    expect(() => resolveHttpServerOptions({ logger, ...options })).toThrow(message);
  });
});

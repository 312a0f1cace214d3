import { describe, expect, it } from 'vitest';
import { type CacheOptions, type Loader, LoadingCache, SingletonCache, systemClock } from '../src/index.js';
import { FakeClock } from './support/fake-clock.js';

const loader = async (key: string) => key;

describe('options', () => {
  it.each<[string, unknown, typeof TypeError | typeof RangeError, RegExp]>([
    ['no options', undefined, TypeError, /options must be an object/],
    ['a missing ttl', {}, TypeError, /ttl must be a number of milliseconds, got undefined/],
    ['a string ttl', { ttl: '5000' }, TypeError, /ttl must be a number of milliseconds, got "5000"/],
    ['a NaN ttl', { ttl: Number.NaN }, TypeError, /ttl must be a number/],
    ['a negative ttl', { ttl: -1 }, RangeError, /ttl must be >= 0 milliseconds \(or Infinity\), got -1/],
    ['a -Infinity ttl', { ttl: Number.NEGATIVE_INFINITY }, RangeError, /ttl must be >= 0/],
    ['a negative negativeTtl', { ttl: 1, negativeTtl: -5 }, RangeError, /negativeTtl must be >= 0/],
    ['a null negativeTtl', { ttl: 1, negativeTtl: null }, TypeError, /negativeTtl must be a number/],
    [
      'a negative staleWhileRevalidate',
      { ttl: 1, staleWhileRevalidate: -1 },
      RangeError,
      /staleWhileRevalidate/,
    ],
    ['maxEntries 0', { ttl: 1, maxEntries: 0 }, RangeError, /maxEntries must be an integer >= 1/],
    [
      'a fractional maxEntries',
      { ttl: 1, maxEntries: 1.5 },
      RangeError,
      /maxEntries must be an integer >= 1/,
    ],
    ['a string maxEntries', { ttl: 1, maxEntries: '10' }, TypeError, /maxEntries must be a number/],
    [
      'a clock without now()',
      { ttl: 1, clock: {} },
      TypeError,
      /clock must be an object with a now\(\) method/,
    ],
  ])('rejects %s in the constructor', (_name, options, errorType, message) => {
    const construct = () => new LoadingCache(loader, options as CacheOptions);
    expect(construct).toThrow(errorType);
    expect(construct).toThrow(message);
  });

  it('rejects a loader that is not a function', () => {
    expect(() => new LoadingCache('nope' as unknown as Loader<string, string>, { ttl: 1 })).toThrow(
      /loader must be a function, got string/,
    );
    expect(() => new SingletonCache(undefined as never, { ttl: 1 })).toThrow(TypeError);
  });

  it('fills in defaults and freezes the resolved options', () => {
    const cache = new LoadingCache(loader, { ttl: 30_000 });
    expect(cache.options).toEqual({
      ttl: 30_000,
      negativeTtl: 30_000,
      staleWhileRevalidate: 0,
      maxEntries: 10_000,
      clock: systemClock,
    });
    expect(Object.isFrozen(cache.options)).toBe(true);
  });

  it('keeps what was given, Infinity included, and is not affected by later changes to the input', () => {
    const clock = new FakeClock();
    const input = {
      ttl: Number.POSITIVE_INFINITY,
      negativeTtl: 0,
      staleWhileRevalidate: 500,
      maxEntries: Number.POSITIVE_INFINITY,
      clock,
    };
    const cache = new LoadingCache(loader, input);
    input.ttl = 1;
    expect(cache.options).toEqual({
      ttl: Number.POSITIVE_INFINITY,
      negativeTtl: 0,
      staleWhileRevalidate: 500,
      maxEntries: Number.POSITIVE_INFINITY,
      clock,
    });
  });

  it('returns a frozen stats snapshot that does not change afterwards', async () => {
    const cache = new LoadingCache(loader, { ttl: 1_000, clock: new FakeClock() });
    const before = cache.stats();
    await cache.get('k');
    expect(Object.isFrozen(before)).toBe(true);
    expect(before.misses).toBe(0);
    expect(cache.stats().misses).toBe(1);
  });
});

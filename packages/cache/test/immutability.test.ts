import { describe, expect, it } from 'vitest';
import { LoadingCache, NOT_FOUND } from '../src/index.js';
import { FakeClock } from './support/fake-clock.js';

interface User {
  name: string;
  roles: string[];
  settings: { theme: string; limits: { tokens: number } };
}

function userCache() {
  return new LoadingCache(
    async (id: string): Promise<User> => ({
      name: id,
      roles: ['member'],
      settings: { theme: 'dark', limits: { tokens: 1_000 } },
    }),
    { ttl: 60_000, clock: new FakeClock() },
  );
}

describe('immutability', () => {
  it('throws on mutation of a returned value, and the next get returns it unchanged', async () => {
    const cache = userCache();
    const user = await cache.get('alice');
    if (user === undefined) throw new Error('expected a user');

    expect(() => {
      // @ts-expect-error the value is typed read-only
      user.name = 'mallory';
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error nested arrays are read-only too
      user.roles.push('admin');
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error and nested objects
      user.settings.limits.tokens = 1_000_000;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error no new properties either
      user.extra = true;
    }).toThrow(TypeError);

    const again = await cache.get('alice');
    expect(again).toBe(user);
    expect(again).toEqual({
      name: 'alice',
      roles: ['member'],
      settings: { theme: 'dark', limits: { tokens: 1_000 } },
    });
  });

  it('hands out the stored reference, not a copy, from get and peek', async () => {
    const cache = userCache();
    const fromGet = await cache.get('bob');
    const fromPeek = cache.peek('bob');
    expect(fromPeek).toBe(fromGet);
    expect(fromPeek).not.toBe(NOT_FOUND);
    expect(Object.isFrozen(fromPeek)).toBe(true);
  });

  it('freezes the very object the loader returned (it now belongs to the cache)', async () => {
    const shared = { list: [1, 2, 3] };
    const cache = new LoadingCache(async () => shared, { ttl: 60_000, clock: new FakeClock() });
    await cache.get('k');
    expect(Object.isFrozen(shared)).toBe(true);
    expect(Object.isFrozen(shared.list)).toBe(true);
  });
});

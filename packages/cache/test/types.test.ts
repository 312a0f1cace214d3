import { describe, expect, expectTypeOf, it } from 'vitest';
import { type DeepReadonly, LoadingCache, NOT_FOUND, type NotFound, SingletonCache } from '../src/index.js';

interface User {
  id: string;
  tags: string[];
}

describe('types', () => {
  it('infers the key and value types from the loader, and answers DeepReadonly<V> | undefined', () => {
    const users = new LoadingCache(
      async (id: string): Promise<User | NotFound> => (id === 'x' ? NOT_FOUND : { id, tags: [] }),
      { ttl: 1 },
    );
    expectTypeOf(users.get).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(users.get('a')).toEqualTypeOf<Promise<DeepReadonly<User> | undefined>>();
    expectTypeOf(users.peek('a')).toEqualTypeOf<DeepReadonly<User> | NotFound | undefined>();

    const providers = new SingletonCache(async () => ['openai'], { ttl: 1 });
    expectTypeOf(providers.get()).toEqualTypeOf<Promise<readonly string[] | undefined>>();
    expect(users).toBeInstanceOf(LoadingCache);
  });

  it('does not let undefined be a value, since get uses it for not found', () => {
    // @ts-expect-error a loader must resolve NOT_FOUND, not undefined
    const cache = new LoadingCache(async (id: string) => (id ? { id } : undefined), { ttl: 1 });
    expect(cache).toBeInstanceOf(LoadingCache);
  });
});

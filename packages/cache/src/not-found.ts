/**
 * What a loader resolves to when the key has no value (a user that does not exist, a provider that is not
 * configured). It is a real outcome, distinct from an error: it is cached for `negativeTtl`, and `get`
 * surfaces it to callers as `undefined`.
 *
 * @example
 * const users = new LoadingCache(async (id: string) => (await db.findUser(id)) ?? NOT_FOUND, { ttl: 30_000 });
 */
export const NOT_FOUND: unique symbol = Symbol('@chatd/cache.NOT_FOUND');

/** The type of {@link NOT_FOUND}. */
export type NotFound = typeof NOT_FOUND;

/**
 * Any value but `undefined`: the constraint on a cache's value type, because `get` resolves `undefined` to
 * mean {@link NOT_FOUND}. Use `null` (or a value of your own) if "empty" is a value you want cached as found.
 */
export type DefinedValue = NonNullable<unknown> | null;

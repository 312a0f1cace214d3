type Primitive = string | number | boolean | bigint | symbol | null | undefined;

/**
 * `T` with every property, array element, `Map` entry and `Set` member read-only, all the way down. This is
 * the type of every value a cache hands out: the value is shared by reference between all callers, so the
 * type system forbids writing to it (and {@link deepFreeze} makes writes throw at run time).
 *
 * Functions are left as they are, and so are `Date`s and typed arrays/`Buffer`s (opaque objects whose state
 * lives behind methods, which a mapped type cannot make read-only).
 */
export type DeepReadonly<T> = T extends Primitive | ((...args: never[]) => unknown) | Date | ArrayBufferView
  ? T
  : T extends ReadonlyMap<infer K, infer U>
    ? ReadonlyMap<DeepReadonly<K>, DeepReadonly<U>>
    : T extends ReadonlySet<infer U>
      ? ReadonlySet<DeepReadonly<U>>
      : // Homomorphic over a type parameter, so arrays and tuples stay (readonly) arrays and tuples.
        { readonly [P in keyof T]: DeepReadonly<T[P]> };

/**
 * Freezes `value` and everything reachable from it through own properties, array elements and `Map`/`Set`
 * contents, then returns the same reference typed {@link DeepReadonly}. Run once when a value is stored, so
 * that reads never pay for a copy.
 *
 * - Cycles and shared sub-objects are handled (each object is visited once).
 * - Getters of objects are not invoked: only data properties are followed (array elements are read as is).
 * - Typed arrays and `DataView`s cannot be frozen by the language and are left writable; the type still says
 *   read-only. `Map`, `Set` and `Date` objects are frozen, but their internal state can still be changed
 *   through their methods at run time (only the types prevent it): prefer plain data in caches.
 */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value !== 'object' || value === null) return value as DeepReadonly<T>;
  const visited = new Set<object>();
  const pending: object[] = [value];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (visited.has(next)) continue;
    visited.add(next);
    if (ArrayBuffer.isView(next)) continue;
    Object.freeze(next);
    if (Array.isArray(next)) {
      for (const item of next as unknown[]) pushIfObject(pending, item);
    } else {
      for (const key of Reflect.ownKeys(next)) {
        const descriptor = Object.getOwnPropertyDescriptor(next, key);
        if (descriptor !== undefined && 'value' in descriptor) pushIfObject(pending, descriptor.value);
      }
      if (next instanceof Map) {
        for (const [key, item] of next) {
          pushIfObject(pending, key);
          pushIfObject(pending, item);
        }
      } else if (next instanceof Set) {
        for (const item of next) pushIfObject(pending, item);
      }
    }
  }
  return value as DeepReadonly<T>;
}

function pushIfObject(pending: object[], candidate: unknown): void {
  if (typeof candidate === 'object' && candidate !== null) pending.push(candidate);
}

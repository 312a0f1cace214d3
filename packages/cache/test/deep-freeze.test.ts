import { describe, expect, it } from 'vitest';
import { type DeepReadonly, deepFreeze } from '../src/index.js';

describe('deepFreeze', () => {
  it('freezes nested objects and arrays and returns the same reference', () => {
    const value = { a: { b: [{ c: 1 }] }, list: [[1], [2]] };
    const frozen = deepFreeze(value);
    expect(frozen).toBe(value);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(value.a)).toBe(true);
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(Object.isFrozen(value.a.b[0])).toBe(true);
    expect(Object.isFrozen(value.list[1])).toBe(true);
  });

  it('handles cycles and shared sub-objects', () => {
    type Node = { name: string; next?: Node; shared?: object };
    const shared = { tag: 'x' };
    const first: Node = { name: 'first', shared };
    const second: Node = { name: 'second', next: first, shared };
    first.next = second;

    deepFreeze(first);
    expect(Object.isFrozen(second)).toBe(true);
    expect(Object.isFrozen(shared)).toBe(true);
  });

  it('descends into an object that was already frozen shallowly', () => {
    const inner = { count: 1 };
    const outer = Object.freeze({ inner });
    deepFreeze(outer);
    expect(Object.isFrozen(inner)).toBe(true);
  });

  it('freezes symbol-keyed and non-enumerable properties without calling getters', () => {
    const key = Symbol('meta');
    let getterCalls = 0;
    const value: Record<string | symbol, unknown> = { [key]: { deep: true } };
    Object.defineProperty(value, 'hidden', { value: { deep: true }, enumerable: false });
    Object.defineProperty(value, 'computed', {
      get: () => {
        getterCalls++;
        return { fresh: true };
      },
      enumerable: true,
    });

    deepFreeze(value);
    expect(Object.isFrozen(value[key])).toBe(true);
    expect(Object.isFrozen(value.hidden)).toBe(true);
    expect(getterCalls).toBe(0);
  });

  it('freezes Map and Set contents', () => {
    const member = { id: 1 };
    const mapValue = { id: 2 };
    deepFreeze({ set: new Set([member]), map: new Map([['k', mapValue]]) });
    expect(Object.isFrozen(member)).toBe(true);
    expect(Object.isFrozen(mapValue)).toBe(true);
  });

  it('leaves typed arrays alone instead of throwing', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const value = { bytes, label: { x: 1 } };
    expect(() => deepFreeze(value)).not.toThrow();
    expect(Object.isFrozen(value.label)).toBe(true);
    expect(Object.isFrozen(bytes)).toBe(false);
  });

  it('returns primitives and null as they are', () => {
    expect(deepFreeze(5)).toBe(5);
    expect(deepFreeze('s')).toBe('s');
    expect(deepFreeze(null)).toBeNull();
    expect(deepFreeze(undefined)).toBeUndefined();
  });

  it('types the result as read-only all the way down', () => {
    const value = deepFreeze({
      list: [{ n: 1 }],
      map: new Map([['k', { n: 2 }]]),
      tuple: [1, 'a'] as [number, string],
    });
    const check = (v: DeepReadonly<{ list: { n: number }[] }>) => v.list[0]?.n;
    expect(check(value)).toBe(1);
    // These lines are compile-time assertions (the repository typecheck fails if they become writable);
    // at run time each one throws because the value is frozen.
    expect(() => {
      // @ts-expect-error readonly array
      value.list.push({ n: 3 });
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error readonly element
      value.list[0]!.n = 5;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error readonly tuple
      value.tuple[0] = 2;
    }).toThrow(TypeError);
    // @ts-expect-error ReadonlyMap has no set()
    expect(typeof value.map.set).toBe('function');
  });
});

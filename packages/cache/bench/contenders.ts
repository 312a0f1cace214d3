import { createCache as createDedupeCache } from 'async-cache-dedupe';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache as createCacheManager } from 'cache-manager';
import { LRUCache } from 'lru-cache';
import { LoadingCache } from '../src/index.js';

/** The value every contender caches: small, JSON-safe, shaped like a row of configuration. */
export interface Provider {
  readonly id: string;
  readonly name: string;
  readonly models: readonly string[];
}

/** Loads one key; the benchmark wraps it to count calls. */
export type Load = (key: string) => Promise<Provider>;

/** A cache under test, built around a loader. */
export interface CacheUnderTest {
  /** One read of `key`: what the benchmark times. A promise is awaited, anything else is used as is. */
  read(key: string): unknown;
  /** Makes `key` cached (through the loader). */
  warm(key: string): Promise<unknown>;
}

export interface Contender {
  /** The row label. */
  readonly name: string;
  /** True when `read` is synchronous: compared with the synchronous floor instead of the awaited one. */
  readonly synchronous: boolean;
  /** False when `read` never loads (so a stampede has nothing to measure). */
  readonly loadsOnMiss: boolean;
  create(load: Load): CacheUnderTest;
}

/** Long enough that nothing expires during a run. */
export const TTL_MS = 10 * 60_000;
const MAX_ENTRIES = 10_000;

interface FloorEntry {
  readonly value: Provider;
  readonly expiresAt: number;
}

/** The floor: a bare Map plus an expiry check, inside an async function (no coalescing, no LRU, no copies). */
export const bareMapAsync: Contender = {
  name: 'floor: bare `Map` + expiry check, `async`',
  synchronous: false,
  loadsOnMiss: true,
  create(load) {
    const map = new Map<string, FloorEntry>();
    const read = async (key: string): Promise<Provider> => {
      const entry = map.get(key);
      if (entry !== undefined && entry.expiresAt > Date.now()) return entry.value;
      const value = await load(key);
      map.set(key, { value, expiresAt: Date.now() + TTL_MS });
      return value;
    };
    return { read, warm: read };
  },
};

/** The synchronous floor, for `peek`. */
export const bareMapSync: Contender = {
  name: 'floor: bare `Map` + expiry check, sync',
  synchronous: true,
  loadsOnMiss: false,
  create(load) {
    const map = new Map<string, FloorEntry>();
    return {
      read(key) {
        const entry = map.get(key);
        return entry !== undefined && entry.expiresAt > Date.now() ? entry.value : undefined;
      },
      async warm(key) {
        map.set(key, { value: await load(key), expiresAt: Date.now() + TTL_MS });
      },
    };
  },
};

export const chatdGet: Contender = {
  name: '`@chatd/cache` `get`',
  synchronous: false,
  loadsOnMiss: true,
  create(load) {
    const cache = new LoadingCache((key: string) => load(key), { ttl: TTL_MS, maxEntries: MAX_ENTRIES });
    const read = (key: string) => cache.get(key);
    return { read, warm: read };
  },
};

export const chatdPeek: Contender = {
  name: '`@chatd/cache` `peek` (sync)',
  synchronous: true,
  loadsOnMiss: false,
  create(load) {
    const cache = new LoadingCache((key: string) => load(key), { ttl: TTL_MS, maxEntries: MAX_ENTRIES });
    return { read: (key) => cache.peek(key), warm: (key) => cache.get(key) };
  },
};

export const lruCacheFetch: Contender = {
  name: '`lru-cache` 11 `fetch`',
  synchronous: false,
  loadsOnMiss: true,
  create(load) {
    const cache = new LRUCache<string, Provider>({
      max: MAX_ENTRIES,
      ttl: TTL_MS,
      fetchMethod: (key) => load(key),
    });
    const read = (key: string) => cache.fetch(key);
    return { read, warm: read };
  },
};

export const asyncCacheDedupe: Contender = {
  name: '`async-cache-dedupe` 3 (memory)',
  synchronous: false,
  loadsOnMiss: true,
  create(load) {
    const cache = createDedupeCache({
      ttl: TTL_MS / 1000, // seconds
      storage: { type: 'memory', options: { size: MAX_ENTRIES } },
    }).define('provider', (key: string) => load(key));
    const read = (key: string) => cache.provider(key);
    return { read, warm: read };
  },
};

export const cacheManagerWrap: Contender = {
  name: '`cache-manager` 7 `wrap` (in-memory Keyv)',
  synchronous: false,
  loadsOnMiss: true,
  create(load) {
    const cache = createCacheManager({ ttl: TTL_MS });
    const read = (key: string) => cache.wrap(key, () => load(key));
    return { read, warm: read };
  },
};

export const bentocacheGetOrSet: Contender = {
  name: '`bentocache` 1.6 `getOrSet` (memory driver, `serialize: false`)',
  synchronous: false,
  loadsOnMiss: true,
  create(load) {
    const bento = new BentoCache({
      default: 'memory',
      stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: MAX_ENTRIES, serialize: false })) },
    });
    const read = (key: string) => bento.getOrSet({ key, factory: () => load(key), ttl: TTL_MS });
    return { read, warm: read };
  },
};

/** In table order. */
export const CONTENDERS: readonly Contender[] = [
  bareMapAsync,
  chatdGet,
  bareMapSync,
  chatdPeek,
  lruCacheFetch,
  asyncCacheDedupe,
  cacheManagerWrap,
  bentocacheGetOrSet,
];

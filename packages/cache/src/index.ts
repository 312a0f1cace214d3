export { type Clock, systemClock } from './clock.js';
export { type DeepReadonly, deepFreeze } from './deep-freeze.js';
export type { LoadContext, Loader } from './loader.js';
export { type GetOptions, LoadingCache } from './loading-cache.js';
export { type DefinedValue, NOT_FOUND, type NotFound } from './not-found.js';
export { type CacheOptions, DEFAULT_MAX_ENTRIES, type ResolvedCacheOptions } from './options.js';
export { SingletonCache, type SingletonCacheOptions, type SingletonLoader } from './singleton-cache.js';
export type { CacheStats } from './stats.js';

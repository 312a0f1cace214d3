import {
  type CacheStats,
  type Clock,
  type DeepReadonly,
  LoadingCache,
  NOT_FOUND,
  SingletonCache,
  systemClock,
} from '@chatd/cache';
import type { ChatModelConfigRow, ChatProviderRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import type { ConfigChange } from './config-change.js';

/** The caches inside a {@link ChatConfigCache}; the `cache` label of its metrics. */
export const CONFIG_CACHE_NAMES = [
  'providers',
  'model_config',
  'default_model_config',
  'system_prompt',
  'user_prompt',
] as const;
export type ConfigCacheName = (typeof CONFIG_CACHE_NAMES)[number];

/** The store query each config cache loads with (the `query` label of `chatd_db_queries_total`). */
export const CONFIG_CACHE_QUERIES = Object.freeze({
  providers: 'getEnabledChatProviders',
  model_config: 'getChatModelConfigById',
  default_model_config: 'getDefaultChatModelConfig',
  system_prompt: 'getSystemPrompt',
  user_prompt: 'getUserChatPrompt',
} as const satisfies Record<ConfigCacheName, keyof Store>);

/** Why entries were dropped; the `source` label of `chatd_config_cache_invalidations_total`. */
export type InvalidationSource = 'notify' | 'reset' | 'disconnected' | 'check';

/** Options of a {@link ChatConfigCache}; every duration in ms. */
export interface ChatConfigCacheOptions {
  /** false sends every read to the store (`--config-cache=off`), for comparisons. Default true. */
  readonly enabled?: boolean;
  readonly providersTtlMs?: number;
  readonly modelConfigTtlMs?: number;
  readonly defaultModelConfigTtlMs?: number;
  readonly systemPromptTtlMs?: number;
  readonly userPromptTtlMs?: number;
  /** LRU bound of the user-prompt cache (one entry per user who chats). */
  readonly userPromptMaxEntries?: number;
  /** LRU bound of the model-config cache. */
  readonly modelConfigMaxEntries?: number;
  /**
   * While the change listener is disconnected (notifications may be missed), no cached config older than
   * this is served: the caches are flushed at most this often and on every read after it.
   */
  readonly disconnectedMaxAgeMs?: number;
  readonly clock?: Clock;
}

/** {@link ChatConfigCacheOptions} with defaults filled in. */
export type ResolvedChatConfigCacheOptions = Readonly<Required<ChatConfigCacheOptions>>;

/**
 * The defaults: 10 minutes for every cache.
 *
 * A TTL is a safety net here, not the invalidation: every write reaches every replica through the
 * triggers' notifications within milliseconds, and a notification that does not arrive is caught by the
 * version check every heartbeat makes ({@link ChatConfigCache.checkVersion}: within two heartbeats, 10 s
 * by default). The TTL only bounds how long a write that bypasses the triggers (a restore with triggers
 * disabled, `session_replication_role = replica`) can go unseen. Each entry costs one reload per TTL per
 * replica whatever the traffic, so a short TTL (wave 1 had 10 s, 60 s for user prompts) made the savings
 * a matter of throughput: at 10 minutes, config queries are the first loads and the invalidations, and a
 * user's prompt stays warm across a conversation however slowly it goes.
 */
export const DEFAULT_CHAT_CONFIG_CACHE_OPTIONS: ResolvedChatConfigCacheOptions = Object.freeze({
  enabled: true,
  providersTtlMs: 600_000,
  modelConfigTtlMs: 600_000,
  defaultModelConfigTtlMs: 600_000,
  systemPromptTtlMs: 600_000,
  userPromptTtlMs: 600_000,
  userPromptMaxEntries: 65_536,
  modelConfigMaxEntries: 4_096,
  disconnectedMaxAgeMs: 1_000,
  clock: systemClock,
});

export type CachedProvider = DeepReadonly<ChatProviderRow>;
export type CachedModelConfig = DeepReadonly<ChatModelConfigRow>;

/**
 * The configuration every chat turn reads, served from memory when warm (zero queries) and kept correct
 * by invalidations: {@link applyChange} for each config-change notification, {@link flush} whenever
 * notifications may have been missed, and {@link setListenerConnected} to stop trusting cached data while
 * the listener is down.
 *
 * Ordering: a change notification arrives only after its transaction committed. A load that read the
 * old row and is still in flight when the notification arrives is fenced by `@chatd/cache` (its result is
 * not stored), and a load that finished before is dropped by the invalidation: either way the next read
 * sees the committed row.
 */
export class ChatConfigCache {
  readonly options: ResolvedChatConfigCacheOptions;
  readonly #store: Store;
  readonly #providers: SingletonCache<ChatProviderRow[]>;
  readonly #modelConfigs: LoadingCache<string, ChatModelConfigRow>;
  readonly #defaultModelConfig: SingletonCache<ChatModelConfigRow>;
  readonly #systemPrompt: SingletonCache<string>;
  readonly #userPrompts: LoadingCache<string, string>;
  readonly #invalidations = new Map<string, number>();
  #appliedVersion = 0;
  /** The database's version at the previous {@link checkVersion}. */
  #versionAtLastCheck: number | undefined;
  #listenerConnected = true;
  /** When the caches were last flushed because the listener was down (see `disconnectedMaxAgeMs`). */
  #lastDisconnectedFlushAt = 0;

  constructor(store: Store, options: ChatConfigCacheOptions = {}) {
    this.options = resolveOptions(options);
    this.#store = store;
    const { clock } = this.options;
    this.#providers = new SingletonCache(() => store.getEnabledChatProviders(), {
      ttl: this.options.providersTtlMs,
      clock,
    });
    this.#modelConfigs = new LoadingCache(
      async (id: string) => (await store.getChatModelConfigById(id)) ?? NOT_FOUND,
      { ttl: this.options.modelConfigTtlMs, maxEntries: this.options.modelConfigMaxEntries, clock },
    );
    this.#defaultModelConfig = new SingletonCache(
      async () => (await store.getDefaultChatModelConfig()) ?? NOT_FOUND,
      {
        ttl: this.options.defaultModelConfigTtlMs,
        clock,
      },
    );
    this.#systemPrompt = new SingletonCache(() => store.getSystemPrompt(), {
      ttl: this.options.systemPromptTtlMs,
      clock,
    });
    this.#userPrompts = new LoadingCache(
      async (userId: string) => (await store.getUserChatPrompt(userId))?.customPrompt ?? NOT_FOUND,
      { ttl: this.options.userPromptTtlMs, maxEntries: this.options.userPromptMaxEntries, clock },
    );
  }

  /** How long `cache` serves an entry before reading it again, in ms. */
  ttlMs(cache: ConfigCacheName): number {
    const options = this.options;
    switch (cache) {
      case 'providers':
        return options.providersTtlMs;
      case 'model_config':
        return options.modelConfigTtlMs;
      case 'default_model_config':
        return options.defaultModelConfigTtlMs;
      case 'system_prompt':
        return options.systemPromptTtlMs;
      case 'user_prompt':
        return options.userPromptTtlMs;
    }
  }

  /** The enabled providers, oldest first. */
  getEnabledProviders(): Promise<readonly CachedProvider[]> {
    if (!this.options.enabled) return this.#store.getEnabledChatProviders().then(uncached);
    this.#distrustWhileDisconnected();
    return this.#providers.get() as Promise<readonly CachedProvider[]>;
  }

  /** A model config that is not deleted, or undefined. */
  async getModelConfigById(id: string): Promise<CachedModelConfig | undefined> {
    if (!this.options.enabled) return uncached(await this.#store.getChatModelConfigById(id));
    this.#distrustWhileDisconnected();
    return this.#modelConfigs.get(id);
  }

  /** The default model config, or undefined when none is set. */
  async getDefaultModelConfig(): Promise<CachedModelConfig | undefined> {
    if (!this.options.enabled) return uncached(await this.#store.getDefaultChatModelConfig());
    this.#distrustWhileDisconnected();
    return this.#defaultModelConfig.get();
  }

  /** The deployment system prompt ('' when unset). */
  async getSystemPrompt(): Promise<string> {
    if (!this.options.enabled) return this.#store.getSystemPrompt();
    this.#distrustWhileDisconnected();
    return (await this.#systemPrompt.get()) ?? '';
  }

  /** The user's custom prompt, or undefined when they have none. */
  async getUserPrompt(userId: string): Promise<string | undefined> {
    if (!this.options.enabled) return (await this.#store.getUserChatPrompt(userId))?.customPrompt;
    this.#distrustWhileDisconnected();
    return this.#userPrompts.get(userId);
  }

  /**
   * Applies one config-change notification: `providers` drops the providers and every model config
   * (resolving a model depends on its provider); `model_config` drops that config and the default one;
   * `user_prompt` that user's prompt; `system_prompt` the system prompt. An id of null means every
   * thing of that kind.
   */
  applyChange(change: ConfigChange): void {
    switch (change.kind) {
      case 'providers':
        this.#invalidateAll(this.#providers, 'providers', 'notify');
        this.#invalidateAll(this.#modelConfigs, 'model_config', 'notify');
        this.#invalidateAll(this.#defaultModelConfig, 'default_model_config', 'notify');
        break;
      case 'model_config':
        if (change.id === null) this.#invalidateAll(this.#modelConfigs, 'model_config', 'notify');
        else {
          this.#modelConfigs.invalidate(change.id);
          this.#count('model_config', 'notify');
        }
        this.#invalidateAll(this.#defaultModelConfig, 'default_model_config', 'notify');
        break;
      case 'user_prompt':
        if (change.id === null) this.#invalidateAll(this.#userPrompts, 'user_prompt', 'notify');
        else {
          this.#userPrompts.invalidate(change.id);
          this.#count('user_prompt', 'notify');
        }
        break;
      case 'system_prompt':
        this.#invalidateAll(this.#systemPrompt, 'system_prompt', 'notify');
        break;
    }
    this.noteVersion(change.version);
  }

  /** Drops every cached entry (and fences loads in flight): notifications may have been missed. */
  flush(source: InvalidationSource): void {
    this.#invalidateAll(this.#providers, 'providers', source);
    this.#invalidateAll(this.#modelConfigs, 'model_config', source);
    this.#invalidateAll(this.#defaultModelConfig, 'default_model_config', source);
    this.#invalidateAll(this.#systemPrompt, 'system_prompt', source);
    this.#invalidateAll(this.#userPrompts, 'user_prompt', source);
  }

  /**
   * Tells the cache whether change notifications are being received. While they are not, cached
   * config is served for at most `disconnectedMaxAgeMs`.
   */
  setListenerConnected(connected: boolean): void {
    if (this.#listenerConnected === connected) return;
    this.#listenerConnected = connected;
    if (!connected) {
      this.#lastDisconnectedFlushAt = this.options.clock.now();
      this.flush('disconnected');
    }
  }

  /** Whether change notifications are being received. */
  get listenerConnected(): boolean {
    return this.#listenerConnected;
  }

  /**
   * The check against missed notifications, with the database's config version as the replica's heartbeat
   * reads it: a version the database already had at the previous check and that no notification has
   * brought here since was missed (a listener that looks connected but hears nothing, such as LISTEN
   * through a transaction-mode pooler) or belongs to a config write that was rolled back. Either way the
   * caches are flushed, once, and that version counts as applied: what is loaded after the flush is at
   * least as new. So a missed change is served for at most two heartbeats.
   * @returns whether it flushed.
   */
  checkVersion(databaseVersion: number): boolean {
    const seenBefore = this.#versionAtLastCheck;
    this.#versionAtLastCheck = databaseVersion;
    if (seenBefore === undefined || seenBefore <= this.#appliedVersion) return false;
    this.flush('check');
    this.noteVersion(seenBefore);
    return true;
  }

  /** Records that every change up to `version` has been applied (never moves backwards). */
  noteVersion(version: number): void {
    if (version > this.#appliedVersion) this.#appliedVersion = version;
  }

  /** The highest config version this replica has applied. */
  get appliedVersion(): number {
    return this.#appliedVersion;
  }

  /** Counters of each inner cache, for metrics. */
  stats(): Record<ConfigCacheName, CacheStats> {
    return {
      providers: this.#providers.stats(),
      model_config: this.#modelConfigs.stats(),
      default_model_config: this.#defaultModelConfig.stats(),
      system_prompt: this.#systemPrompt.stats(),
      user_prompt: this.#userPrompts.stats(),
    };
  }

  /** How many times `cache` was invalidated for `source`. */
  invalidationCount(cache: ConfigCacheName, source: InvalidationSource): number {
    return this.#invalidations.get(`${cache}|${source}`) ?? 0;
  }

  /** While disconnected, entries older than the bound must not be served: flush once per period. */
  #distrustWhileDisconnected(): void {
    if (this.#listenerConnected) return;
    const now = this.options.clock.now();
    if (now - this.#lastDisconnectedFlushAt >= this.options.disconnectedMaxAgeMs) {
      this.#lastDisconnectedFlushAt = now;
      this.flush('disconnected');
    }
  }

  #invalidateAll(
    cache: { invalidateAll(): void } | { invalidate(): void },
    name: ConfigCacheName,
    source: InvalidationSource,
  ): void {
    if ('invalidateAll' in cache) cache.invalidateAll();
    else cache.invalidate();
    this.#count(name, source);
  }

  #count(name: ConfigCacheName, source: InvalidationSource): void {
    const key = `${name}|${source}`;
    this.#invalidations.set(key, (this.#invalidations.get(key) ?? 0) + 1);
  }
}

/**
 * Types a value read straight from the store (cache off) like a cached one. Not frozen: nobody shares it.
 * Generic so that the compiler does not expand DeepReadonly over recursive JSON types.
 */
function uncached<T>(value: T): DeepReadonly<T> {
  return value as DeepReadonly<T>;
}

function resolveOptions(options: ChatConfigCacheOptions): ResolvedChatConfigCacheOptions {
  const resolved = { ...DEFAULT_CHAT_CONFIG_CACHE_OPTIONS, ...stripUndefined(options) };
  for (const [name, value] of Object.entries(resolved)) {
    if (name.endsWith('Ms') && !(typeof value === 'number' && value >= 0)) {
      throw new RangeError(`ChatConfigCache: ${name} must be a duration in ms >= 0, got ${String(value)}`);
    }
  }
  for (const name of ['userPromptMaxEntries', 'modelConfigMaxEntries'] as const) {
    if (!Number.isInteger(resolved[name]) || resolved[name] < 1) {
      throw new RangeError(`ChatConfigCache: ${name} must be an integer >= 1, got ${resolved[name]}`);
    }
  }
  return Object.freeze(resolved);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

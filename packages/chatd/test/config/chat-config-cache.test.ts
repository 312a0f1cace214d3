import { beforeAll, describe, expect, it } from 'vitest';
import { ChatConfigCache } from '../../src/config/chat-config-cache.js';
import { createMeteredStore } from '../../src/db/metered-store.js';
import { QueryStats } from '../../src/db/query-stats.js';
import type { Store } from '../../src/db/store.js';
import { type ConfigFixture, seedConfig } from '../support/config-fixtures.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();
let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await seedConfig(db.store);
});

class FakeClock {
  time = 1_000_000;
  now = () => this.time;
}

function meteredCache(options: ConstructorParameters<typeof ChatConfigCache>[1] = {}) {
  const stats = new QueryStats();
  const store: Store = createMeteredStore(db.store, stats);
  const clock = new FakeClock();
  const cache = new ChatConfigCache(store, { clock, ...options });
  return { cache, stats, clock };
}

/** Every read a turn makes. */
async function readEverything(cache: ChatConfigCache) {
  const providers = await cache.getEnabledProviders();
  const config = await cache.getModelConfigById(fixture.otherConfig.id);
  const defaultConfig = await cache.getDefaultModelConfig();
  const systemPrompt = await cache.getSystemPrompt();
  const userPrompt = await cache.getUserPrompt(fixture.user.id);
  return { providers, config, defaultConfig, systemPrompt, userPrompt };
}

describe('ChatConfigCache', () => {
  it('serves warm reads with zero queries', async () => {
    const { cache, stats } = meteredCache();
    const { providers, config, defaultConfig, systemPrompt, userPrompt } = await readEverything(cache);
    expect(providers.map((p) => p.id)).toContain(fixture.provider.id);
    expect(config?.model).toBe('inspect');
    expect(defaultConfig?.id).toBe(fixture.defaultConfig.id);
    expect(systemPrompt).toBe('You are a test assistant.');
    expect(userPrompt).toBe('Answer in French.');
    const cold = stats.totalCalls();
    expect(cold).toBe(5);

    for (let i = 0; i < 100; i++) await readEverything(cache);
    expect(stats.totalCalls()).toBe(cold);
  });

  it('caches "no prompt" and unknown model configs too', async () => {
    const { cache, stats } = meteredCache();
    const stranger = await db.store.insertUser({ username: `no-prompt-${Date.now()}`, role: 'member' });
    const missing = '00000000-0000-4000-8000-000000000000';
    for (let i = 0; i < 10; i++) {
      expect(await cache.getUserPrompt(stranger.id)).toBeUndefined();
      expect(await cache.getModelConfigById(missing)).toBeUndefined();
    }
    expect(stats.calls('getUserChatPrompt')).toBe(1);
    expect(stats.calls('getChatModelConfigById')).toBe(1);
  });

  it('expires entries after their TTL: 10 minutes for every cache by default', async () => {
    const { cache, stats, clock } = meteredCache();
    await readEverything(cache);
    clock.time += 599_999;
    await readEverything(cache);
    expect(stats.totalCalls()).toBe(5);
    clock.time += 1;
    await readEverything(cache);
    expect(stats.calls('getEnabledChatProviders')).toBe(2);
    expect(stats.calls('getChatModelConfigById')).toBe(2);
    expect(stats.calls('getSystemPrompt')).toBe(2);
    expect(stats.calls('getUserChatPrompt')).toBe(2);
  });

  it('keeps its own TTL per cache when given', async () => {
    const { cache, stats, clock } = meteredCache({ systemPromptTtlMs: 10_000 });
    await readEverything(cache);
    clock.time += 10_000;
    await readEverything(cache);
    expect(stats.calls('getSystemPrompt')).toBe(2);
    expect(stats.calls('getEnabledChatProviders')).toBe(1);
  });

  it('flushes once when a version the database had at the last check was never notified', async () => {
    // No listener is wired here: a write reaches this cache only through checkVersion.
    const { cache, stats } = meteredCache();
    await db.store.upsertUserChatPrompt(fixture.user.id, 'Before the check.');
    cache.noteVersion(await db.store.getConfigVersion());
    expect(await cache.getUserPrompt(fixture.user.id)).toBe('Before the check.');

    await db.store.upsertUserChatPrompt(fixture.user.id, 'Never notified.');
    const missed = await db.store.getConfigVersion();
    // The first check sees the new version but waits: its notification may be on its way.
    expect(cache.checkVersion(missed)).toBe(false);
    expect(await cache.getUserPrompt(fixture.user.id)).toBe('Before the check.');
    // A heartbeat later it is still not applied: missed. Flushed, and counted as applied.
    expect(cache.checkVersion(missed)).toBe(true);
    expect(cache.invalidationCount('user_prompt', 'check')).toBe(1);
    expect(cache.appliedVersion).toBe(missed);
    expect(await cache.getUserPrompt(fixture.user.id)).toBe('Never notified.');
    // Once applied, later checks at the same version change nothing.
    const loads = stats.calls('getUserChatPrompt');
    expect(cache.checkVersion(missed)).toBe(false);
    expect(await cache.getUserPrompt(fixture.user.id)).toBe('Never notified.');
    expect(stats.calls('getUserChatPrompt')).toBe(loads);
  });

  it('does not flush when the notification arrived between two checks', async () => {
    const { cache } = meteredCache();
    cache.noteVersion(10);
    expect(cache.checkVersion(12)).toBe(false);
    // The notification of version 12 arrives before the next heartbeat.
    cache.noteVersion(12);
    expect(cache.checkVersion(12)).toBe(false);
    expect(cache.invalidationCount('providers', 'check')).toBe(0);
  });

  it('coalesces 1,000 concurrent reads of a cold key into one query', async () => {
    const { cache, stats } = meteredCache();
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => cache.getModelConfigById(fixture.defaultConfig.id)),
    );
    expect(stats.calls('getChatModelConfigById')).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(Object.isFrozen(results[0])).toBe(true);
  });

  it('invalidates by kind: providers drop model configs too; model_config drops the default', async () => {
    const { cache, stats } = meteredCache();
    await readEverything(cache);
    const reads = () => ({
      providers: stats.calls('getEnabledChatProviders'),
      byId: stats.calls('getChatModelConfigById'),
      default: stats.calls('getDefaultChatModelConfig'),
      system: stats.calls('getSystemPrompt'),
      user: stats.calls('getUserChatPrompt'),
    });
    const before = reads();

    cache.applyChange({ kind: 'user_prompt', id: fixture.user.id, version: 1 });
    await readEverything(cache);
    expect(reads()).toEqual({ ...before, user: before.user + 1 });

    cache.applyChange({ kind: 'system_prompt', id: null, version: 2 });
    await readEverything(cache);
    expect(reads()).toEqual({ ...before, user: before.user + 1, system: before.system + 1 });

    cache.applyChange({ kind: 'model_config', id: fixture.otherConfig.id, version: 3 });
    await readEverything(cache);
    expect(reads()).toMatchObject({
      byId: before.byId + 1,
      default: before.default + 1,
      providers: before.providers,
    });

    cache.applyChange({ kind: 'providers', id: fixture.provider.id, version: 4 });
    await readEverything(cache);
    expect(reads()).toMatchObject({
      providers: before.providers + 1,
      byId: before.byId + 2,
      default: before.default + 2,
      system: before.system + 1,
      user: before.user + 1,
    });
    expect(cache.appliedVersion).toBe(4);
    cache.applyChange({ kind: 'system_prompt', id: null, version: 3 });
    expect(cache.appliedVersion).toBe(4);
  });

  it('a model_config change for one id keeps other ids cached', async () => {
    const { cache, stats } = meteredCache();
    await cache.getModelConfigById(fixture.defaultConfig.id);
    await cache.getModelConfigById(fixture.otherConfig.id);
    cache.applyChange({ kind: 'model_config', id: fixture.otherConfig.id, version: 1 });
    await cache.getModelConfigById(fixture.defaultConfig.id);
    expect(stats.calls('getChatModelConfigById')).toBe(2);
    await cache.getModelConfigById(fixture.otherConfig.id);
    expect(stats.calls('getChatModelConfigById')).toBe(3);
  });

  it('flush drops everything', async () => {
    const { cache, stats } = meteredCache();
    await readEverything(cache);
    cache.flush('reset');
    await readEverything(cache);
    expect(stats.totalCalls()).toBe(10);
    expect(cache.invalidationCount('user_prompt', 'reset')).toBe(1);
  });

  it('while the listener is down, serves nothing cached longer than disconnectedMaxAgeMs', async () => {
    const { cache, stats, clock } = meteredCache({ disconnectedMaxAgeMs: 1_000 });
    await readEverything(cache);
    expect(stats.totalCalls()).toBe(5);

    cache.setListenerConnected(false); // flushes at once
    await readEverything(cache);
    expect(stats.totalCalls()).toBe(10);
    clock.time += 999;
    await readEverything(cache);
    expect(stats.totalCalls()).toBe(10);
    clock.time += 1;
    await readEverything(cache);
    expect(stats.totalCalls()).toBe(15);

    cache.setListenerConnected(true);
    clock.time += 5_000; // well past the bound, within the prompt TTL's reach for config
    await cache.getEnabledProviders();
    expect(stats.calls('getEnabledChatProviders')).toBe(3);
  });

  it('with the cache off, every read goes to the store', async () => {
    const { cache, stats } = meteredCache({ enabled: false });
    for (let i = 0; i < 3; i++) await readEverything(cache);
    expect(stats.totalCalls()).toBe(15);
    expect((await cache.getModelConfigById(fixture.otherConfig.id))?.model).toBe('inspect');
  });

  it('rejects nonsense options', () => {
    expect(() => new ChatConfigCache(db.store, { userPromptTtlMs: -1 })).toThrow(RangeError);
    expect(() => new ChatConfigCache(db.store, { userPromptMaxEntries: 0 })).toThrow(RangeError);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/db/store.js';
import { type ConfigInstance, startConfigInstance } from '../../src/scaletest/config-instance.js';
import { type ConfigFixture, seedConfig } from '../support/config-fixtures.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();
let fixture: ConfigFixture;
let a: ConfigInstance;
let b: ConfigInstance;

beforeAll(async () => {
  fixture = await seedConfig(db.store);
  a = await startConfigInstance(db.database.url, 'a');
  b = await startConfigInstance(db.database.url, 'b');
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

/** The config version after the last committed write. */
async function currentVersion(): Promise<number> {
  return db.store.getConfigVersion();
}

async function waitApplied(instance: ConfigInstance, version: number): Promise<void> {
  await eventually(
    () => instance.cache.appliedVersion >= version,
    `${instance.name} applied version ${version}`,
  );
}

describe('config across replicas', () => {
  it('serves warm reads with zero queries on each instance', async () => {
    for (const instance of [a, b]) {
      await instance.cache.getUserPrompt(fixture.user.id);
      await instance.cache.getEnabledProviders();
      await instance.cache.getModelConfigById(fixture.defaultConfig.id);
      const before = instance.stats.totalCalls();
      for (let i = 0; i < 50; i++) {
        await instance.cache.getUserPrompt(fixture.user.id);
        await instance.cache.getEnabledProviders();
        await instance.cache.getModelConfigById(fixture.defaultConfig.id);
      }
      expect(instance.stats.totalCalls()).toBe(before);
    }
  });

  it("sees a write made through A on B's next read, without waiting for the TTL", async () => {
    expect(await b.cache.getUserPrompt(fixture.user.id)).toBe('Answer in French.');
    await a.store.upsertUserChatPrompt(fixture.user.id, 'Answer in German.');
    await waitApplied(b, await currentVersion());
    expect(await b.cache.getUserPrompt(fixture.user.id)).toBe('Answer in German.');
    // A too: its own write arrives as a notification like anyone else's.
    await waitApplied(a, await currentVersion());
    expect(await a.cache.getUserPrompt(fixture.user.id)).toBe('Answer in German.');
  });

  it('sees a raw SQL UPDATE made on a separate connection', async () => {
    expect((await b.cache.getModelConfigById(fixture.otherConfig.id))?.contextLimit).toBe(4096);
    await db.sql`UPDATE chat_model_configs SET context_limit = 777 WHERE id = ${fixture.otherConfig.id}`;
    await waitApplied(b, await currentVersion());
    expect((await b.cache.getModelConfigById(fixture.otherConfig.id))?.contextLimit).toBe(777);

    await db.sql`UPDATE deployment_settings SET system_prompt = 'Raw SQL prompt'`;
    await waitApplied(b, await currentVersion());
    expect(await b.cache.getSystemPrompt()).toBe('Raw SQL prompt');

    await db.sql`UPDATE chat_providers SET enabled = false WHERE id = ${fixture.provider.id}`;
    await waitApplied(b, await currentVersion());
    expect((await b.cache.getEnabledProviders()).map((p) => p.id)).not.toContain(fixture.provider.id);
    await db.sql`UPDATE chat_providers SET enabled = true WHERE id = ${fixture.provider.id}`;
    await waitApplied(b, await currentVersion());
    expect((await b.cache.getEnabledProviders()).map((p) => p.id)).toContain(fixture.provider.id);
  });

  it('a rolled-back write invalidates nothing', async () => {
    await b.cache.getSystemPrompt();
    const before = b.stats.calls('getSystemPrompt');
    await db.sql
      .begin(async (tx) => {
        await tx`UPDATE deployment_settings SET system_prompt = 'never committed'`;
        throw new Error('roll back');
      })
      .catch(() => {});
    // A later committed write proves the notification channel is flowing; only it invalidates.
    await db.sql`UPDATE user_chat_prompts SET custom_prompt = custom_prompt WHERE user_id = ${fixture.user.id}`;
    await waitApplied(b, await currentVersion());
    expect(await b.cache.getSystemPrompt()).not.toBe('never committed');
    expect(b.stats.calls('getSystemPrompt')).toBe(before);
  });

  it("reconnects after pg_terminate_backend on B's listener, flushes, and serves nothing stale", async () => {
    // B2 waits a fixed 300 ms before reconnecting, so the write below surely lands while it is down.
    const b2 = await startConfigInstance(db.database.url, 'b2', {}, undefined, {
      initialDelayMs: 300,
      maxDelayMs: 300,
      jitter: 'none',
    });
    let resets = 0;
    const removeReset = b2.pubsub.onReset(() => {
      resets += 1;
    });
    try {
      expect(await b2.cache.getUserPrompt(fixture.user.id)).toBeDefined();
      const [{ terminated }] = await db.sql<[{ terminated: number }]>`
        SELECT count(pg_terminate_backend(pid))::int AS terminated
        FROM pg_stat_activity WHERE application_name = 'chatd-listener-b2'`;
      expect(terminated).toBe(1);
      await eventually(() => !b2.pubsub.connected, 'B2 noticed its listener is gone');
      expect(b2.cache.listenerConnected).toBe(false);
      await db.store.upsertUserChatPrompt(fixture.user.id, 'Written while B2 was disconnected.');
      // The notification of that write was sent while nobody on B2 listened: only the reset can save B2.
      expect(b2.pubsub.connected).toBe(false);
      await eventually(() => resets > 0, 'B2 fired reset after reconnecting');
      expect(b2.pubsub.connected).toBe(true);
      expect(await b2.cache.getUserPrompt(fixture.user.id)).toBe('Written while B2 was disconnected.');
      expect(b2.cache.invalidationCount('user_prompt', 'reset')).toBe(1);
      expect(b2.cache.invalidationCount('user_prompt', 'disconnected')).toBe(1);
      const reconnects = (await b2.registry.getSingleMetric('chatd_pubsub_reconnects_total')?.get())
        ?.values[0]?.value;
      expect(reconnects).toBe(1);
      // And it keeps receiving notifications after the reconnect.
      await db.store.upsertUserChatPrompt(fixture.user.id, 'After the reconnect.');
      await waitApplied(b2, await currentVersion());
      expect(await b2.cache.getUserPrompt(fixture.user.id)).toBe('After the reconnect.');
    } finally {
      removeReset();
      await b2.close();
    }
  });

  it('never caches the old value when a write commits while a load of the same key is in flight', async () => {
    // C's user-prompt loads read the database, then wait at a gate before handing the row to the cache:
    // the window in which a commit and its notification can overtake the load.
    let openGate: () => void = () => {};
    let loadRead: () => void = () => {};
    const gateReached = new Promise<void>((resolve) => {
      loadRead = resolve;
    });
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let gated = true;
    const slowPrompts = (store: Store): Store =>
      Object.freeze({
        ...store,
        getUserChatPrompt: async (userId: string) => {
          const row = await store.getUserChatPrompt(userId);
          if (gated) {
            gated = false;
            loadRead();
            await gate;
          }
          return row;
        },
      });
    const c = await startConfigInstance(db.database.url, 'c', {}, slowPrompts);
    try {
      await db.store.upsertUserChatPrompt(fixture.user.id, 'Before the race.');
      await waitApplied(c, await currentVersion());
      const inFlight = c.cache.getUserPrompt(fixture.user.id);
      await gateReached; // the load has read 'Before the race.'
      await db.store.upsertUserChatPrompt(fixture.user.id, 'After the race.');
      await waitApplied(c, await currentVersion()); // the invalidation has been applied during the load
      openGate();
      expect(await inFlight).toBe('Before the race.'); // its own caller asked before the write
      expect(await c.cache.getUserPrompt(fixture.user.id)).toBe('After the race.');
      expect(c.cache.stats().user_prompt.fencedDiscards).toBe(1);
    } finally {
      openGate();
      await c.close();
    }
  });

  it('makes one query for 1,000 concurrent reads of a cold key', async () => {
    const d = await startConfigInstance(db.database.url, 'd');
    try {
      const before = d.stats.calls('getChatModelConfigById');
      const configs = await Promise.all(
        Array.from({ length: 1000 }, () => d.cache.getModelConfigById(fixture.defaultConfig.id)),
      );
      expect(d.stats.calls('getChatModelConfigById') - before).toBe(1);
      expect(configs.every((config) => config === configs[0])).toBe(true);
    } finally {
      await d.close();
    }
  });

  it('reports the applied version and cache counters as metrics', async () => {
    await a.store.setSystemPrompt('metrics');
    const version = await currentVersion();
    await waitApplied(a, version);
    const text = await a.registry.metrics();
    expect(text).toMatch(new RegExp(`chatd_config_version_applied ${version}\\b`));
    expect(text).toMatch(/chatd_config_cache_requests_total\{cache="user_prompt",result="hit"\} [1-9]/);
    expect(text).toMatch(
      /chatd_config_cache_invalidations_total\{cache="system_prompt",source="notify"\} [1-9]/,
    );
    expect(text).toMatch(/chatd_config_cache_entries\{cache="providers"\} [01]/);
    expect(text).toContain('chatd_pubsub_reconnects_total');
  });
});

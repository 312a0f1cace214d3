import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMeteredStore } from '../../src/db/metered-store.js';
import { QueryStats } from '../../src/db/query-stats.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();

describe('metered store', () => {
  it('counts every call exactly, per query name, inside transactions too, and exports Prometheus series', async () => {
    const registry = new Registry();
    const stats = new QueryStats(registry);
    const store = createMeteredStore(db.store, stats);

    for (let i = 0; i < 7; i++) await store.getSystemPrompt();
    await Promise.all(Array.from({ length: 13 }, () => store.getEnabledChatProviders()));
    await store.transaction(async (tx) => {
      await tx.setSystemPrompt('x');
      await tx.getSystemPrompt();
    });
    await expect(store.getUserById('not-a-uuid')).rejects.toThrow();

    expect(stats.snapshot()).toEqual({
      getSystemPrompt: expect.objectContaining({ calls: 8, errors: 0 }),
      getEnabledChatProviders: expect.objectContaining({ calls: 13, errors: 0 }),
      setSystemPrompt: expect.objectContaining({ calls: 1, errors: 0 }),
      getUserById: expect.objectContaining({ calls: 1, errors: 1 }),
    });
    expect(stats.totalCalls()).toBe(23);
    expect(stats.snapshot().getSystemPrompt!.totalSeconds).toBeGreaterThan(0);

    const text = await registry.metrics();
    expect(text).toContain('chatd_db_queries_total{query="getSystemPrompt"} 8');
    expect(text).toContain('chatd_db_queries_total{query="getEnabledChatProviders"} 13');
    expect(text).toContain('chatd_db_query_errors_total{query="getUserById"} 1');
    expect(text).toContain('chatd_db_query_duration_seconds_count{query="getSystemPrompt"} 8');
  });
});

import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ChatEvent, ChatEventHub } from '../../src/chat/chat-events.js';
import { ChatRetention, resolveChatRetentionOptions } from '../../src/chat/chat-retention.js';
import { createSql, type Sql } from '../../src/db/connection.js';
import { createMeteredStore } from '../../src/db/metered-store.js';
import { QueryStats } from '../../src/db/query-stats.js';
import { createPostgresStore } from '../../src/db/store.js';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';
import { runCli } from '../support/cli-process.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';

const DAY_MS = 86_400_000;
const db = useTestDatabase();
const pubsub = new MemoryPubsub();
const logs: Array<{ level: number; msg: string }> = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  }),
);
let events: ChatEventHub;
let ownerId: string;

beforeAll(async () => {
  events = new ChatEventHub({ pubsub, replicaId: randomUUID(), logger });
  await events.start();
  ownerId = (await db.store.insertUser({ username: 'keeper', role: 'member' })).id;
});
afterAll(async () => {
  await events?.stop();
  await pubsub.close();
});
beforeEach(async () => {
  await db.sql`DELETE FROM chats`;
  logs.length = 0;
});

/** Inserts `count` chats last touched `ageMs` ago, each with two messages and a queued one. */
async function insertChats(
  count: number,
  ageMs: number,
  status: 'waiting' | 'error' | 'pending' | 'running' = 'waiting',
): Promise<string[]> {
  const running = status === 'running';
  // One statement: a sweeper running meanwhile sees the chats with their rows or not at all.
  const rows = await db.sql<{ id: string }[]>`
    WITH chats AS (
      INSERT INTO chats (owner_id, title, status, archived, updated_at, worker_id, claim_id, heartbeat_at, queued_messages)
      SELECT ${ownerId}, 'chat ' || i, ${status}, i % 2 = 0, now() - make_interval(secs => ${ageMs / 1000}),
             ${running ? randomUUID() : null}::uuid, CASE WHEN ${running} THEN gen_random_uuid() END,
             CASE WHEN ${running} THEN now() END, 1
      FROM generate_series(1, ${count}) i
      RETURNING id
    ), messages AS (
      INSERT INTO chat_messages (chat_id, role, content) SELECT id, 'user', 'hello' FROM chats, generate_series(1, 2)
    ), queued AS (
      INSERT INTO chat_queued_messages (chat_id, content) SELECT id, 'later' FROM chats
    )
    SELECT id FROM chats`;
  const ids = rows.map((row) => row.id);
  return ids;
}

async function existing(ids: readonly string[]): Promise<number> {
  const [row] = await db.sql<[{ count: number }]>`
    SELECT count(*)::int AS count FROM chats WHERE id = ANY(${ids as string[]}::uuid[])`;
  return row!.count;
}

describe('chat retention', () => {
  it('deletes chats idle past the retention period in batches, with all their rows, and keeps recent, pending and running ones', async () => {
    const old = [...(await insertChats(1_100, 2 * DAY_MS)), ...(await insertChats(134, 2 * DAY_MS, 'error'))];
    const keep = [
      ...(await insertChats(3, 2 * DAY_MS, 'pending')),
      ...(await insertChats(3, 2 * DAY_MS, 'running')),
      ...(await insertChats(5, DAY_MS / 2)),
    ];
    const stats = new QueryStats();
    const registry = new Registry();
    const seen: ChatEvent[] = [];
    const unsubscribe = events.subscribe(old[0]!, (received) => seen.push(...received));
    const retention = new ChatRetention(
      { store: createMeteredStore(db.store, stats), events, logger, registry },
      { retentionMs: DAY_MS },
    );
    try {
      expect(await retention.sweep()).toBe(1_234);
    } finally {
      unsubscribe();
    }
    // 500 a statement: 500, 500, 234.
    expect(stats.calls('deleteIdleChats')).toBe(3);
    expect(stats.calls('tryChatRetentionLock')).toBe(3);
    expect(await existing(old)).toBe(0);
    expect(await existing(keep)).toBe(keep.length);
    const [orphans] = await db.sql<[{ messages: number; queued: number }]>`
      SELECT (SELECT count(*)::int FROM chat_messages m WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = m.chat_id)) AS messages,
             (SELECT count(*)::int FROM chat_queued_messages q WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = q.chat_id)) AS queued`;
    expect(orphans).toEqual({ messages: 0, queued: 0 });
    expect(seen).toEqual([{ type: 'deleted' }]);
    expect(await registry.getSingleMetricAsString('chatd_chat_retention_deleted_total')).toContain(
      'chatd_chat_retention_deleted_total 1234',
    );
    expect(logs.filter((entry) => entry.level >= 40)).toEqual([]);
    // Nothing more to delete: one short batch.
    expect(await retention.sweep()).toBe(0);
  });

  it('runs on one replica at a time: two replicas sweeping together delete each chat once, without errors', async () => {
    const old = await insertChats(600, 2 * DAY_MS);
    const otherPool: Sql = createSql(db.database.url, { maxConnections: 2 });
    try {
      const replicas = [db.store, createPostgresStore(otherPool)].map(
        (store) => new ChatRetention({ store, events, logger }, { retentionMs: DAY_MS, batchSize: 50 }),
      );
      const results = await Promise.all([...replicas, ...replicas].map((replica) => replica.sweep()));
      const [a, b, aAgain, bAgain] = results;
      // A second call during a sweep joins it.
      expect([aAgain, bAgain]).toEqual([a, b]);
      expect(a! + b!).toBe(600);
      expect(await existing(old)).toBe(0);
      expect(logs.filter((entry) => entry.level >= 40)).toEqual([]);
    } finally {
      await otherPool.end();
    }
  });

  it('runs by itself on a server started with chatRetention, every interval', async () => {
    const server = await startTestServer(db.database.url, {
      chatRetention: { retentionMs: 60_000, intervalMs: 100 },
    });
    try {
      const old = await insertChats(3, 120_000);
      const recent = await insertChats(2, 0);
      await eventually(async () => (await existing(old)) === 0, 'the old chats are deleted', 5_000);
      expect(await existing(recent)).toBe(2);
      expect(await server.registry.getSingleMetricAsString('chatd_chat_retention_deleted_total')).toMatch(
        /chatd_chat_retention_deleted_total 3$/m,
      );
    } finally {
      await server.close();
    }
  });

  it('resolves its options: the interval defaults to the retention, at most an hour', () => {
    expect(resolveChatRetentionOptions({ retentionMs: 90 * DAY_MS })).toEqual({
      retentionMs: 90 * DAY_MS,
      intervalMs: 3_600_000,
      batchSize: 500,
    });
    expect(resolveChatRetentionOptions({ retentionMs: 120_000 }).intervalMs).toBe(120_000);
    expect(() => resolveChatRetentionOptions({ retentionMs: 0 })).toThrow(/retentionMs/);
    expect(() => resolveChatRetentionOptions({ retentionMs: DAY_MS, batchSize: 1.5 })).toThrow(/batchSize/);
  });

  it('is a chatd server flag taking long durations (90d), refusing short or malformed ones', async () => {
    for (const value of ['30s', 'soon']) {
      const result = await runCli(['server', '--chat-retention', value]);
      expect(result.code, value).not.toBe(0);
      expect(result.stderr).toContain('expected a duration such as 12h, 7d or 30d');
    }
  });
});

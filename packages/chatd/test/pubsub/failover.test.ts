import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase, createSql, type Sql } from '../../src/db/connection.js';
import { EmbeddedPostgres } from '../../src/db/embedded/embedded-postgres.js';
import { migrate } from '../../src/db/migrate.js';
import { createPostgresStore } from '../../src/db/store.js';
import { DatabaseUnavailableError } from '../../src/errors.js';
import { PostgresPubsub } from '../../src/pubsub/postgres-pubsub.js';
import { startConfigInstance } from '../../src/scaletest/config-instance.js';
import { recorder, waitFor } from './helpers.js';

/**
 * Failover with a multi-host URL and target_session_attrs=read-write, without replication: two embedded
 * servers with one password; `standby` is read-only (default_transaction_read_only=on, which is how
 * postgres.js and the listener tell a primary) until the test "promotes" it after stopping `primary`.
 */
const PASSWORD = 'failover-test-password';
let dirs: string[] = [];
let primary: EmbeddedPostgres;
let standby: EmbeddedPostgres;

async function startServer(): Promise<EmbeddedPostgres> {
  const baseDir = await mkdtemp(path.join(tmpdir(), 'chatd-failover-'));
  dirs.push(baseDir);
  await writeFile(path.join(baseDir, 'postgres-password'), `${PASSWORD}\n`, { mode: 0o600 });
  return EmbeddedPostgres.start({ baseDir, settings: { fsync: 'off', max_connections: '30' } });
}

async function setReadOnly(server: EmbeddedPostgres, readOnly: boolean): Promise<void> {
  const admin = createSql(server.connectionUrl(), { maxConnections: 1 });
  try {
    await admin.unsafe('SET default_transaction_read_only = off');
    await admin.unsafe(
      readOnly
        ? 'ALTER SYSTEM SET default_transaction_read_only = on'
        : 'ALTER SYSTEM RESET default_transaction_read_only',
    );
    await admin.unsafe('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
}

/** chatd's schema on `server`, with a system prompt that names the server (there is no replication). */
async function prepareSchema(server: EmbeddedPostgres, systemPrompt: string): Promise<void> {
  const sql = createSql(server.connectionUrl(), { maxConnections: 1 });
  try {
    await migrate(sql);
    await createPostgresStore(sql).setSystemPrompt(systemPrompt);
  } finally {
    await sql.end();
  }
}

beforeAll(async () => {
  [primary, standby] = await Promise.all([startServer(), startServer()]);
  await prepareSchema(primary, 'the prompt of the first primary');
  await prepareSchema(standby, 'the prompt of the new primary');
  await setReadOnly(standby, true);
});

afterAll(async () => {
  await Promise.all([primary?.stop(), standby?.stop()]);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  dirs = [];
});

/** Retries `query` until it succeeds: the first query after a failover may meet the dead connection. */
async function serverPort(sql: Sql): Promise<number> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    try {
      const [row] = await sql<[{ port: number }]>`SELECT inet_server_port() AS port`;
      return row!.port;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw lastError;
}

async function listenersOn(server: EmbeddedPostgres): Promise<number> {
  const sql = createSql(server.connectionUrl(), { maxConnections: 1 });
  try {
    const [row] = await sql<[{ count: number }]>`
      SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = 'chatd-pubsub-listener'`;
    return row!.count;
  } finally {
    await sql.end();
  }
}

it('the pool, the listener and the config cache skip a read-only host, and follow the primary when it changes', async () => {
  // The read-only server first: both must skip it.
  const url =
    `postgres://chatd:${PASSWORD}@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres` +
    '?target_session_attrs=read-write';
  const sql = createSql(url, { maxConnections: 2, connectTimeoutSeconds: 2 });
  const pubsub = await PostgresPubsub.connect(url, {
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    connectTimeoutMs: 2_000,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1_000,
  });
  // A replica's config side (its own pool and listener, wired as chatd server wires them), with TTLs far
  // longer than the test: only the reset can make it read the new primary.
  const replica = await startConfigInstance(url, 'failover', { systemPromptTtlMs: 600_000 });
  try {
    let resets = 0;
    pubsub.onReset(() => {
      resets += 1;
    });
    const { payloads, handler } = recorder();
    await pubsub.subscribe('failover_test', handler);

    expect(await serverPort(sql)).toBe(primary.port);
    expect(await listenersOn(primary)).toBe(1);
    expect(await listenersOn(standby)).toBe(0);
    await pubsub.publish('failover_test', 'before');
    await waitFor(() => payloads.includes('before'), 'a notification from the first primary');
    expect(await replica.cache.getSystemPrompt()).toBe('the prompt of the first primary');

    await primary.stop();
    await waitFor(() => !pubsub.connected, 'the listener to notice the primary is gone');
    await setReadOnly(standby, false);

    expect(await serverPort(sql)).toBe(standby.port);
    await waitFor(() => pubsub.connected, 'the listener to reconnect to the new primary', {
      timeoutMs: 10_000,
    });
    // The reconnect to another server fired a reset: consumers flush what they derived from notifications.
    expect(resets).toBe(1);
    expect(await listenersOn(standby)).toBe(1);
    await pubsub.publish('failover_test', 'after');
    await waitFor(() => payloads.includes('after'), 'a notification from the new primary');

    // The replica's cache was flushed by its listener's reset, and reads the new primary.
    await waitFor(
      () => replica.pubsub.connected && replica.cache.invalidationCount('system_prompt', 'reset') >= 1,
      "the replica's listener to reconnect and flush its cache",
      { timeoutMs: 10_000 },
    );
    expect(await replica.cache.getSystemPrompt()).toBe('the prompt of the new primary');
  } finally {
    await replica.close();
    await pubsub.close();
    await sql.end({ timeout: 1 });
  }
});

it('the listener and connectDatabase fail fast, naming the hosts, when no host is read-write', async () => {
  await setReadOnly(standby, true);
  const url =
    `postgres://chatd:${PASSWORD}@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres` +
    '?target_session_attrs=read-write';
  const error = await PostgresPubsub.connect(url, { connectTimeoutMs: 2_000 }).then(
    async (pubsub) => {
      await pubsub.close();
      throw new Error('expected no host to be accepted');
    },
    (failure: unknown) => failure as Error,
  );
  expect(error.message).toContain(
    `127.0.0.1:${standby.port}: the server is read-only (target_session_attrs=read-write)`,
  );
  expect(error.message).toContain(`127.0.0.1:${primary.port}:`);
  expect(error.message).not.toContain(PASSWORD);

  // The pool waits for a read-write host (postgres.js retries, now with delays); connectDatabase bounds it.
  const started = performance.now();
  const poolError = await connectDatabase(url, { maxConnections: 1, connectTimeoutSeconds: 1 }).then(
    async (sql) => {
      await sql.end();
      throw new Error('expected no host to be accepted');
    },
    (failure: unknown) => failure as Error,
  );
  expect(poolError).toBeInstanceOf(DatabaseUnavailableError);
  expect(poolError.message).toContain('no host accepted a read-write session within 2000 ms');
  expect(poolError.message).not.toContain(PASSWORD);
  expect(performance.now() - started).toBeLessThan(4_000);
});

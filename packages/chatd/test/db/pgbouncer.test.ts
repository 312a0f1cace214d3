import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { createSql } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';
import { sqlStateOf } from '../../src/db/sqlstate.js';
import { createPostgresStore } from '../../src/db/store.js';
import { PostgresPubsub } from '../../src/pubsub/postgres-pubsub.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { measureConfigPropagation } from '../../src/scaletest/config-propagation.js';
import { startLlmMockServer } from '../../src/scaletest/llm-mock-server.js';
import { type Pgbouncer, pgbouncerUnavailable, startPgbouncer } from '../../src/scaletest/pgbouncer.js';
import { startCli } from '../support/cli-process.js';
import { eventually } from '../support/eventually.js';
import { describeWithPgbouncer } from '../support/pgbouncer.js';
import { scratchDir } from '../support/scratch-dir.js';
import { createTestDatabase, useTestDatabase } from '../support/test-database.js';
import {
  createMember,
  createModel,
  startTestServer,
  TEST_SECRETS_KEY,
  waitForTurn,
} from '../support/test-server.js';

/** SQLSTATE 26000: "prepared statement … does not exist". */
const INVALID_SQL_STATEMENT_NAME = '26000';
const unavailable = await pgbouncerUnavailable();
const describePgbouncer = describeWithPgbouncer(unavailable);
const db = useTestDatabase();
let bouncer: Pgbouncer;
/** The test database through PgBouncer in transaction mode. */
let pooledUrl: string;

/** Ten minutes: a change seen sooner came by notification, not by expiry. */
const LONG_TTLS = {
  providersTtlMs: 600_000,
  modelConfigTtlMs: 600_000,
  defaultModelConfigTtlMs: 600_000,
  systemPromptTtlMs: 600_000,
  userPromptTtlMs: 600_000,
};

beforeAll(async () => {
  if (unavailable !== undefined) return;
  bouncer = await startPgbouncer(db.database.url, { poolMode: 'transaction', poolSize: 10 });
  pooledUrl = bouncer.url(db.database.url);
});
afterAll(async () => {
  await bouncer?.stop();
});

describePgbouncer('PgBouncer in transaction mode', () => {
  it('fails a transaction whose prepared statement is on another server connection; prepare off works', async () => {
    for (const preparedStatements of [true, false]) {
      const client = createSql(pooledUrl, { maxConnections: 1, preparedStatements });
      const holder = createSql(pooledUrl, { maxConnections: 1, preparedStatements: false });
      try {
        // Prepared (or not) on the only server connection there is yet.
        expect(await client`SELECT ${1}::int AS n`).toEqual([{ n: 1 }]);
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let holding!: () => void;
        const holds = new Promise<void>((resolve) => {
          holding = resolve;
        });
        // Another client keeps that server connection in a transaction, so PgBouncer gives the next
        // transaction of `client` a new one.
        const transaction = holder.begin(async (tx) => {
          await tx`SELECT 1`;
          holding();
          await held;
        });
        await holds;
        // Outside a transaction postgres.js would prepare the statement again and retry (routine
        // FetchPreparedStatement); inside one it does not (the failure has aborted the transaction).
        const again = client
          .begin((tx) => tx`SELECT ${2}::int AS n`)
          .then(
            (rows) => rows,
            (error: unknown) => error,
          );
        const result = await again;
        release();
        await transaction;
        if (preparedStatements) {
          expect(sqlStateOf(result)).toBe(INVALID_SQL_STATEMENT_NAME);
        } else {
          expect(result).toEqual([{ n: 2 }]);
        }
      } finally {
        await client.end({ timeout: 1 });
        await holder.end({ timeout: 1 });
      }
    }
  });

  it('answers every query of a store whose pool has prepared statements off, with more queries than connections', async () => {
    // 4 connections, 40 queries at a time: half without parameters (sent in one go), half with (described
    // first, then bound). Pipelined one behind another, a query lost its answer within a second
    // (PgBouncer gave the server connection to another client at the end of the first one's transaction;
    // see ConnectOptions.pipelining) and waited forever: each round here must end within 5 s.
    const sql = createSql(pooledUrl, { maxConnections: 4, preparedStatements: false });
    const store = createPostgresStore(sql);
    try {
      for (let round = 0; round < 150; round++) {
        const pairs = Array.from({ length: 20 }, (_, i) =>
          Promise.all([store.getConfigVersion(), store.getChatById(randomUUID())]).then(() => i),
        );
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<'stalled'>((resolve) => {
          timer = setTimeout(() => resolve('stalled'), 5_000);
        });
        const answered = await Promise.race([Promise.all(pairs), stalled]).finally(() => clearTimeout(timer));
        expect(answered === 'stalled' ? `round ${round} stalled` : answered).toEqual([...Array(20).keys()]);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('migrates an empty database through the pooler', async () => {
    const empty = await createTestDatabase({ empty: true });
    const sql = createSql(bouncer.url(empty.url), { maxConnections: 2, preparedStatements: false });
    try {
      const result = await migrate(sql);
      expect(result.applied.length).toBeGreaterThan(0);
      expect((await migrate(sql)).applied).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
      await empty.drop();
    }
  });

  it('delivers nothing to a LISTEN through the pooler, and everything to a direct listener', async () => {
    const direct = await PostgresPubsub.connect(db.database.url);
    const pooled = await PostgresPubsub.connect(pooledUrl, { preparedStatements: false });
    try {
      const viaDirect: string[] = [];
      const viaPooler: string[] = [];
      await direct.subscribe('pgbouncer_probe', (payload) => viaDirect.push(payload));
      await pooled.subscribe('pgbouncer_probe', (payload) => viaPooler.push(payload));
      // NOTIFY through the pooler works (it is sent at the commit of its own transaction).
      for (let i = 0; i < 5; i++) await pooled.publish('pgbouncer_probe', `through pooler ${i}`);
      for (let i = 0; i < 5; i++) await direct.publish('pgbouncer_probe', `direct ${i}`);
      await eventually(() => viaDirect.length === 10, 'the direct listener has every notification');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(viaPooler).toEqual([]);
      // And the pooled listener still believes it is connected: nothing tells it that it hears nothing.
      expect(pooled.connected).toBe(true);
    } finally {
      await direct.close();
      await pooled.close();
    }
  });

  describePgbouncer('two replicas with the pool through PgBouncer and a direct listen URL', () => {
    let a: ChatdServer;
    let b: ChatdServer;
    let admin: ChatdClient;
    beforeAll(async () => {
      const viaPooler = {
        configCache: LONG_TTLS,
        postgresListenUrl: db.database.url,
        postgresPreparedStatements: false,
        maxDatabaseConnections: 5,
      };
      a = await startTestServer(pooledUrl, viaPooler);
      b = await startTestServer(pooledUrl, viaPooler);
      admin = new ChatdClient(a.url, a.firstAdmin!.token);
      await createModel(admin, { provider: 'builtin', model: 'echo' });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('sees a config write through A on B at once, long before the TTL', async () => {
      const member = await createMember(admin, a.url, 'pooled-config');
      const me = await member.request<{ id: string }>('GET', '/api/v1/users/me');
      await member.request('PUT', '/api/v1/chat/config/user-prompt', { custom_prompt: 'first' });
      expect(await b.configCache.getUserPrompt(me.id)).toBe('first'); // warm on B
      await member.request('PUT', '/api/v1/chat/config/user-prompt', { custom_prompt: 'second' });
      await eventually(
        async () => (await b.configCache.getUserPrompt(me.id)) === 'second',
        'B serves the new prompt',
        2_000,
      );
      expect(await a.notificationDelivery).toBe('delivered');
      expect(await b.notificationDelivery).toBe('delivered');
    });

    it('streams a turn run on one replica to a client of the other, and interrupts it from there', async () => {
      const slow = await startLlmMockServer({ responseTokens: 300, chunkDelayMs: 20 });
      try {
        const { modelConfigId } = await createModel(admin, {
          provider: 'openai-compat',
          model: 'slow',
          baseUrl: slow.url,
          isDefault: false,
        });
        const member = await createMember(admin, a.url, 'pooled-stream');
        const onB = new ChatdClient(b.url, member.token);
        // Only A runs turns: B's client sees them only through notifications.
        await b.worker.stop();
        const chat = await member.createChat('Talk for a long time.', modelConfigId);
        const controller = new AbortController();
        let parts = 0;
        let interrupted = false;
        let finalStatus: string | undefined;
        const timeout = setTimeout(() => controller.abort(), 20_000);
        try {
          for await (const event of onB.stream(chat.id, { signal: controller.signal })) {
            if (event.event === 'message_part') parts += 1;
            if (parts >= 3 && !interrupted) {
              interrupted = true;
              await onB.request('POST', `/api/v1/chats/${chat.id}/interrupt`);
            }
            const status = (event.data as { status?: string }).status;
            if (event.event === 'status' && interrupted && (status === 'waiting' || status === 'error')) {
              finalStatus = status;
              break;
            }
          }
        } finally {
          clearTimeout(timeout);
          controller.abort();
        }
        expect(parts).toBeGreaterThanOrEqual(3);
        expect(finalStatus).toBe('waiting');
        const detail = await onB.getChat(chat.id);
        const answer = detail.messages.find((m) => m.role === 'assistant');
        expect(answer?.finish_reason).toBe('interrupted');
        // An echo turn through the same path, to the end.
        const echo = await onB.createChat('hello through the pooler');
        const turn = await waitForTurn(onB, echo.id, { minMessages: 2 });
        expect(turn.messages.at(-1)?.content).toBe('hello through the pooler');
      } finally {
        await slow.close();
      }
    });
  });

  it('negative control: without the listen URL, B hears nothing; only the heartbeat version check catches the write', async () => {
    const viaPoolerOnly = {
      configCache: LONG_TTLS,
      notificationCheckTimeoutMs: 1_000,
      postgresPreparedStatements: false,
      maxDatabaseConnections: 5,
    };
    const a = await startTestServer(pooledUrl, viaPoolerOnly);
    // B's heartbeat (and so its version check) every 2 s: a notification would take milliseconds.
    const b = await startTestServer(pooledUrl, { ...viaPoolerOnly, replicaHeartbeatMs: 2_000 });
    try {
      const userId = (await a.store.insertUser({ username: 'pooled-stale', role: 'member' })).id;
      await a.store.upsertUserChatPrompt(userId, 'first');
      expect(await b.configCache.getUserPrompt(userId)).toBe('first');
      const writtenAt = Date.now();
      await a.store.upsertUserChatPrompt(userId, 'second');
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Through the pooler the notification never comes: still the old prompt (a 10-minute TTL).
      expect(await b.configCache.getUserPrompt(userId)).toBe('first');
      expect(b.configCache.invalidationCount('user_prompt', 'notify')).toBe(0);
      // Two heartbeats later the version check has seen a version nobody notified, and flushed.
      await eventually(
        async () => (await b.configCache.getUserPrompt(userId)) === 'second',
        'the version check catches the missed write',
        10_000,
      );
      expect(Date.now() - writtenAt).toBeLessThan(3 * 2_000 + 1_000);
      expect(b.configCache.invalidationCount('user_prompt', 'check')).toBeGreaterThanOrEqual(1);
      // And each replica said so at start (a warning naming --postgres-listen-url).
      expect(await a.notificationDelivery).toBe('not-delivered');
      expect(await b.notificationDelivery).toBe('not-delivered');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('measures config propagation through a PgBouncer of its own (scaletest config-propagation --through-pgbouncer)', async () => {
    const report = await measureConfigPropagation({
      writes: 20,
      postgresUrl: inject('adminDatabaseUrl'),
      throughPgbouncer: true,
    });
    expect(report.throughPgbouncer).toBe(true);
    expect(report.freshReads).toBe(20);
  });

  it('chatd server: warns at start without --postgres-listen-url, serves with it', async () => {
    const args = [
      '--http-address',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      '--postgres-prepared-statements',
      'off',
      '--secrets-key',
      TEST_SECRETS_KEY.toString('hex'),
      '--cache-dir',
      await scratchDir('chatd-pgbouncer-cli-'),
    ];
    const without = startCli(['server', '--postgres-url', pooledUrl, ...args]);
    const withListenUrl = startCli([
      'server',
      '--postgres-url',
      pooledUrl,
      '--postgres-listen-url',
      db.database.url,
      ...args,
    ]);
    try {
      await without.waitForStdout(/chatd is ready at/);
      await without.waitForStderr(/did not reach its own listener.*--postgres-listen-url/, 15_000);
      await withListenUrl.waitForStdout(/chatd is ready at/);
      // Its check ends well within the 5 s the other took to warn.
      expect(withListenUrl.stderr()).not.toContain('did not reach its own listener');
    } finally {
      for (const cli of [without, withListenUrl]) {
        cli.child.kill('SIGTERM');
        await cli.exited;
      }
    }
  });
});

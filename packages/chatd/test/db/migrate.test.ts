import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/connection.js';
import { checkSchema, loadMigrations, type Migration, migrate } from '../../src/db/migrate.js';
import { scratchDir } from '../support/scratch-dir.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe('migrate', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function emptyDatabase(): Promise<{ database: TestDatabase; connect: () => Sql }> {
    const database = await createTestDatabase({ empty: true });
    cleanups.push(() => database.drop());
    return {
      database,
      connect: () => {
        const sql = createSql(database.url, { maxConnections: 2 });
        cleanups.unshift(() => sql.end());
        return sql;
      },
    };
  }

  it('applies every migration once and is a no-op when re-run', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const all = await loadMigrations();
    const first = await migrate(sql);
    expect(first.applied).toEqual(all.map((m) => m.id));
    expect(first.version).toBe(all.at(-1)!.id);

    const second = await migrate(sql);
    expect(second.applied).toEqual([]);
    expect(second.version).toBe(all.at(-1)!.id);
    const rows = await sql<{ id: number }[]>`SELECT id FROM chatd_migrations ORDER BY id`;
    expect(rows.map((r) => r.id)).toEqual(all.map((m) => m.id));
  });

  it('applies the schema exactly once when 5 migrators race on separate connections', async () => {
    const { connect } = await emptyDatabase();
    const migrators = Array.from({ length: 5 }, () => connect());
    const results = await Promise.all(migrators.map((sql) => migrate(sql)));
    const all = await loadMigrations();
    // Every migration was applied by exactly one migrator.
    const appliedIds = results.flatMap((r) => r.applied).sort((a, b) => a - b);
    expect(appliedIds).toEqual(all.map((m) => m.id));
    for (const result of results) expect(result.version).toBe(all.at(-1)!.id);
    const [{ count }] = await migrators[0]!<
      [{ count: number }]
    >`SELECT count(*)::int AS count FROM chatd_migrations`;
    expect(count).toBe(all.length);
    const [{ rows }] = await migrators[0]!<
      [{ rows: number }]
    >`SELECT count(*)::int AS rows FROM deployment_settings`;
    expect(rows).toBe(1);
  });

  it('rolls back a failing migration entirely and records nothing for it', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const dir = await scratchDir('chatd-migrations-');
    await writeFile(path.join(dir, '0001_good.sql'), 'CREATE TABLE good (id int);');
    await writeFile(path.join(dir, '0002_bad.sql'), 'CREATE TABLE half (id int); SELECT no_such_function();');
    const migrations = await loadMigrations(dir);
    await expect(migrate(sql, migrations)).rejects.toThrow(/no_such_function/);
    const [{ half }] = await sql<[{ half: string | null }]>`SELECT to_regclass('half')::text AS half`;
    expect(half).toBeNull();
    const ids = await sql<{ id: number }[]>`SELECT id FROM chatd_migrations`;
    expect(ids.map((r) => r.id)).toEqual([1]);
  });

  it('refuses a database migrated by a newer chatd', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    await migrate(sql);
    await sql`INSERT INTO chatd_migrations (id, name) VALUES (9999, 'from_the_future')`;
    await expect(migrate(sql)).rejects.toThrow(/schema is at version 9999, newer than this chatd knows/);
  });

  it('rejects repeated migration ids', async () => {
    const dir = await scratchDir('chatd-migrations-');
    await writeFile(path.join(dir, '0001_a.sql'), 'SELECT 1;');
    await writeFile(path.join(dir, '0002_b.sql'), 'SELECT 1;');
    await writeFile(path.join(dir, '0002_c.sql'), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toThrow(/0002_c.sql repeats or precedes id 2/);
  });

  it('accepts a gap, and applies the missing id once it arrives (a number reserved by another branch)', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const dir = await scratchDir('chatd-migrations-');
    await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);');
    await writeFile(path.join(dir, '0003_c.sql'), 'CREATE TABLE c (id int);');
    expect(await migrate(sql, await loadMigrations(dir))).toEqual({ applied: [1, 3], version: 3 });
    await writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE b (id int);');
    expect(await migrate(sql, await loadMigrations(dir))).toEqual({ applied: [2], version: 3 });
    expect(await migrate(sql, await loadMigrations(dir))).toEqual({ applied: [], version: 3 });
    // A build that lacks an id the database has is refused, whatever its newest id.
    await rm(path.join(dir, '0002_b.sql'));
    await expect(migrate(sql, await loadMigrations(dir))).rejects.toThrow(
      /the database has migrations this chatd does not know \(2\)/,
    );
  });

  /** A migration of the next release, applied on top of the shipped ones. */
  function nextMigration(id: number, sqlText: string, expand = false): Migration {
    return { id, name: `next_${id}`, sql: sqlText, expand };
  }

  it('retries a migration whose lock times out, without blocking queries on the table past lock_timeout', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const shipped = await loadMigrations();
    await migrate(sql, shipped);
    const holder = connect();
    const reader = connect();
    // A long transaction holding ACCESS SHARE on chats: ALTER TABLE needs ACCESS EXCLUSIVE.
    const held = await holder.reserve();
    const [{ pid: holderPid }] = await held<[{ pid: number }]>`SELECT pg_backend_pid() AS pid`;
    await held`BEGIN`;
    await held`SELECT count(*) FROM chats`;
    const warnings: Array<Record<string, unknown>> = [];
    const logger = { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as never;
    const lockTimeoutMs = 300;
    const migrating = migrate(
      sql,
      [...shipped, nextMigration(9001, 'ALTER TABLE chats ADD COLUMN next_note text')],
      { lockTimeoutMs, attempts: 20, retryDelayMs: 100, logger },
    );
    // While the ALTER waits in the lock queue, new readers of chats queue behind it, but never for longer
    // than its lock_timeout.
    let slowestMs = 0;
    const started = Date.now();
    while (Date.now() - started < 1_500) {
      const t0 = performance.now();
      await reader`SELECT count(*) FROM chats`;
      slowestMs = Math.max(slowestMs, performance.now() - t0);
    }
    await held`COMMIT`;
    held.release();
    const result = await migrating;
    expect(result.applied).toEqual([9001]);
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings[0]).toMatchObject({ migration: '9001_next_9001', attempt: 1, lockTimeoutMs });
    // The retry log names the session holding the table.
    expect(warnings.at(-1)!.longTransactions).toContainEqual(
      expect.objectContaining({ pid: holderPid, state: 'idle in transaction' }),
    );
    // Readers did queue behind the waiting ALTER (the lock queue is real), and only up to its timeout.
    expect(slowestMs).toBeGreaterThan(lockTimeoutMs / 2);
    expect(slowestMs).toBeLessThan(lockTimeoutMs + 700);
    const [{ column }] = await sql<[{ column: string | null }]>`
      SELECT column_name AS column FROM information_schema.columns
      WHERE table_name = 'chats' AND column_name = 'next_note'`;
    expect(column).toBe('next_note');
  });

  it('gives up with E_MIGRATION_LOCK_TIMEOUT after its attempts, and records nothing', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const shipped = await loadMigrations();
    await migrate(sql, shipped);
    const held = await connect().reserve();
    await held`BEGIN`;
    await held`SELECT count(*) FROM chats`;
    const failure = await migrate(
      sql,
      [...shipped, nextMigration(9001, 'ALTER TABLE chats ADD COLUMN next_note text')],
      { lockTimeoutMs: 100, attempts: 2, retryDelayMs: 50 },
    ).catch((error: unknown) => error);
    await held`ROLLBACK`;
    held.release();
    expect(failure).toMatchObject({ code: 'E_MIGRATION_LOCK_TIMEOUT' });
    expect((failure as Error).message).toMatch(
      /9001_next_9001 could not take its locks within 100 ms in 2 attempts/,
    );
    const ids = await sql<{ id: number }[]>`SELECT id FROM chatd_migrations WHERE id = 9001`;
    expect(ids).toEqual([]);
  });

  it('lets a build run on expand steps it does not know, and refuses any other newer migration', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const shipped = await loadMigrations();
    await migrate(sql, shipped);
    await migrate(sql, [
      ...shipped,
      nextMigration(9001, 'ALTER TABLE chats ADD COLUMN next_note text', true),
    ]);
    // This build knows up to the shipped migrations: the expand step does not stop it.
    expect(await migrate(sql, shipped)).toEqual({ applied: [], version: 9001 });
    expect(await checkSchema(sql, shipped)).toBe(9001);
    await migrate(sql, [
      ...shipped,
      nextMigration(9001, '', true),
      nextMigration(9002, 'ALTER TABLE chats DROP COLUMN next_note'),
    ]);
    await expect(migrate(sql, shipped)).rejects.toMatchObject({
      code: 'E_SCHEMA_TOO_NEW',
      message: expect.stringMatching(/schema is at version 9002, newer than this chatd knows/),
    });
    await expect(checkSchema(sql, shipped)).rejects.toMatchObject({ code: 'E_SCHEMA_TOO_NEW' });
  });

  it('reads the expand marker from the first line of a file', async () => {
    const dir = await scratchDir('chatd-migrations-');
    await writeFile(path.join(dir, '0001_a.sql'), '-- chatd:expand\nCREATE TABLE a (id int);');
    await writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE b (id int);\n-- chatd:expand');
    expect((await loadMigrations(dir)).map((m) => m.expand)).toEqual([true, false]);
  });

  it('with --migrate off, refuses a schema older than this build, without writing', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    const shipped = await loadMigrations();
    await expect(checkSchema(sql, shipped)).rejects.toMatchObject({ code: 'E_SCHEMA_TOO_OLD' });
    const [{ table }] = await sql<
      [{ table: string | null }]
    >`SELECT to_regclass('chatd_migrations')::text AS table`;
    expect(table).toBeNull();
    await migrate(sql, shipped.slice(0, -1));
    await expect(checkSchema(sql, shipped)).rejects.toThrow(
      new RegExp(
        `lacks migrations ${shipped.at(-1)!.id} that this chatd needs, and --migrate is off: run chatd migrate`,
      ),
    );
    await migrate(sql, shipped);
    expect(await checkSchema(sql, shipped)).toBe(shipped.at(-1)!.id);
  });

  it('adds the expand column to a migrations table created before it existed', async () => {
    const { connect } = await emptyDatabase();
    const sql = connect();
    await sql`CREATE TABLE chatd_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    expect(await checkSchema(sql, [])).toBe(0);
    await migrate(sql, [nextMigration(1, 'CREATE TABLE a (id int)', true)]);
    const rows = await sql`SELECT id, expand FROM chatd_migrations`;
    expect(rows).toEqual([{ id: 1, expand: true }]);
  });
});

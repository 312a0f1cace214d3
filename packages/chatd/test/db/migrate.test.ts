import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/connection.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
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
});

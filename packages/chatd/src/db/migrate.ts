import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from './connection.js';

/** A numbered SQL file from `sql/migrations`. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/** The folder that ships with the package. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/migrations/', import.meta.url));

/**
 * One advisory-lock key for every chatd migrator on a database ("chatd" in ASCII), so that replicas
 * starting together apply each migration exactly once.
 */
const MIGRATION_LOCK_KEY = 0x6368617464;

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads `NNNN_name.sql` files in id order; rejects gaps, duplicates and stray names. */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
    const id = Number(match[1]);
    if (id !== migrations.length + 1)
      throw new Error(`migration ${file} is out of sequence (expected ${migrations.length + 1})`);
    migrations.push({ id, name: match[2]!, sql: await readFile(path.join(dir, file), 'utf8') });
  }
  return migrations;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Ids applied by this call (empty when the database was already current). */
  readonly applied: number[];
  /** The schema version after the call. */
  readonly version: number;
}

/**
 * Applies every migration not yet recorded in `chatd_migrations`, each in its own transaction.
 *
 * Ordering and concurrency: each transaction first takes a transaction-scoped advisory lock, then reads
 * what is applied. A migrator that waited on the lock therefore sees the other's committed work and
 * skips it, so any number of replicas may run this at once and each migration runs once. Re-running is
 * a no-op. A database that has migrations this build does not know (a newer chatd ran) is refused.
 */
export async function migrate(sql: Sql, migrations?: readonly Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const applied: number[] = [];
  for (const migration of all) {
    const ran = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      await tx`
        CREATE TABLE IF NOT EXISTS chatd_migrations (
          id integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`;
      const [row] = await tx<[{ latest: number | null }]>`SELECT max(id) AS latest FROM chatd_migrations`;
      const latest = row?.latest ?? 0;
      if (latest > all.length) {
        throw new Error(
          `the database schema is at version ${latest}, newer than this chatd knows (${all.length}); upgrade chatd`,
        );
      }
      if (migration.id <= latest) return false;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO chatd_migrations (id, name) VALUES (${migration.id}, ${migration.name})`;
      return true;
    });
    if (ran) applied.push(migration.id);
  }
  const [row] = await sql<[{ version: number | null }]>`SELECT max(id) AS version FROM chatd_migrations`;
  return { applied, version: row?.version ?? 0 };
}

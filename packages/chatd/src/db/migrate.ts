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

/**
 * Reads `NNNN_name.sql` files in id order; rejects duplicate ids and stray names. Ids may have gaps:
 * work on parallel branches reserves numbers (a branch may ship 0010 before 0009 exists), and
 * {@link migrate} applies whichever ids a database lacks.
 */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) throw new Error(`migration file name ${file} does not match NNNN_name.sql`);
    const id = Number(match[1]);
    const previous = migrations.at(-1);
    if (id === 0 || (previous && id <= previous.id)) {
      throw new Error(`migration ${file} repeats or precedes id ${previous?.id ?? 0}`);
    }
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
 * Applies every migration not yet recorded in `chatd_migrations`, in id order, each in its own
 * transaction. A migration is known by its id, not by its rank: one whose id is below the highest
 * applied (a number another branch reserved, merged later) is still applied.
 *
 * Ordering and concurrency: each transaction first takes a transaction-scoped advisory lock, then reads
 * what is applied. A migrator that waited on the lock therefore sees the other's committed work and
 * skips it, so any number of replicas may run this at once and each migration runs once. Re-running is
 * a no-op. A database that has migrations this build does not know (a newer chatd ran) is refused.
 */
export async function migrate(sql: Sql, migrations?: readonly Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const known = new Set(all.map((migration) => migration.id));
  const newestKnown = all.at(-1)?.id ?? 0;
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
      const recorded = (await tx<{ id: number }[]>`SELECT id FROM chatd_migrations ORDER BY id`).map(
        (row) => row.id,
      );
      const unknown = recorded.filter((id) => !known.has(id));
      const newestRecorded = recorded.at(-1) ?? 0;
      if (newestRecorded > newestKnown) {
        throw new Error(
          `the database schema is at version ${newestRecorded}, newer than this chatd knows (${newestKnown}); upgrade chatd`,
        );
      }
      if (unknown.length > 0) {
        throw new Error(
          `the database has migrations this chatd does not know (${unknown.join(', ')}); upgrade chatd`,
        );
      }
      if (recorded.includes(migration.id)) return false;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO chatd_migrations (id, name) VALUES (${migration.id}, ${migration.name})`;
      return true;
    });
    if (ran) applied.push(migration.id);
  }
  const [row] = await sql<[{ version: number | null }]>`SELECT max(id) AS version FROM chatd_migrations`;
  return { applied, version: row?.version ?? 0 };
}

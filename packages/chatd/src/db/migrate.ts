import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { MigrationLockTimeoutError, SchemaTooNewError, SchemaTooOldError } from '../errors.js';
import type { Db, Sql } from './connection.js';
import { SqlState, sqlStateOf } from './sqlstate.js';

/** A numbered SQL file from `sql/migrations`. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
  /**
   * An expand step (the file's first line is `-- chatd:expand`): it only adds (nullable or defaulted
   * columns, tables, indexes), so builds that do not know it keep running on the schema it leaves. See
   * "Rolling upgrades" in docs/design.md.
   */
  readonly expand: boolean;
}

/** The folder that ships with the package. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/migrations/', import.meta.url));

/**
 * One advisory-lock key for every chatd migrator on a database ("chatd" in ASCII), so that replicas
 * starting together apply each migration exactly once.
 */
const MIGRATION_LOCK_KEY = 0x6368617464;

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

const EXPAND_MARKER = /^--\s*chatd:expand\s*$/;

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
    const sql = await readFile(path.join(dir, file), 'utf8');
    const expand = EXPAND_MARKER.test(sql.split('\n', 1)[0]!.trim());
    migrations.push({ id, name: match[2]!, sql, expand });
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

/** How {@link migrate} waits for locks. */
export interface MigrateOptions {
  /**
   * `lock_timeout` of each migration's statements (default 5,000 ms): a DDL statement that cannot have
   * its lock this soon gives up rather than wait behind a long transaction while every new query on the
   * table queues behind it.
   */
  readonly lockTimeoutMs?: number;
  /** Attempts per migration before {@link MigrationLockTimeoutError} (default 5). */
  readonly attempts?: number;
  /** The pause after the first timed-out attempt, doubled after each (default 1,000 ms). */
  readonly retryDelayMs?: number;
  /** Where retries are logged (warn). */
  readonly logger?: Pick<Logger, 'warn'> | undefined;
}

/** Defaults of {@link MigrateOptions}. */
export const DEFAULT_MIGRATE_OPTIONS = Object.freeze({
  lockTimeoutMs: 5_000,
  attempts: 5,
  retryDelayMs: 1_000,
});

/**
 * Applies every migration not yet recorded in `chatd_migrations`, in id order, each in its own
 * transaction. A migration is known by its id, not by its rank: one whose id is below the highest
 * applied (a number another branch reserved, merged later) is still applied.
 *
 * Ordering and concurrency: each transaction first takes a transaction-scoped advisory lock, then reads
 * what is applied. A migrator that waited on the lock therefore sees the other's committed work and
 * skips it, so any number of replicas may run this at once and each migration runs once. Re-running is
 * a no-op. A database that has migrations this build does not know (a newer chatd ran) is refused
 * ({@link SchemaTooNewError}), unless every one of them is an expand step.
 *
 * Locks: the migration's own statements run under `SET LOCAL lock_timeout`, set after the advisory lock
 * (waiting for another migrator is not a lock conflict with traffic). A migration that times out is
 * rolled back whole and retried after a growing pause, during which the queries that queued behind it
 * run; the last failure is a {@link MigrationLockTimeoutError}.
 */
export async function migrate(
  sql: Sql,
  migrations?: readonly Migration[],
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_MIGRATE_OPTIONS.lockTimeoutMs;
  const attempts = Math.max(1, options.attempts ?? DEFAULT_MIGRATE_OPTIONS.attempts);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_MIGRATE_OPTIONS.retryDelayMs;
  const applied: number[] = [];
  for (const migration of all) {
    for (let attempt = 1; ; attempt++) {
      try {
        const ran = await sql.begin(async (tx) => {
          await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
          await ensureMigrationsTable(tx);
          const recorded = await readRecordedMigrations(tx);
          refuseUnknownMigrations(recorded, all);
          if (recorded.some((row) => row.id === migration.id)) return false;
          await tx.unsafe(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
          await tx.unsafe(migration.sql);
          await tx`
            INSERT INTO chatd_migrations (id, name, expand)
            VALUES (${migration.id}, ${migration.name}, ${migration.expand})`;
          return true;
        });
        if (ran) applied.push(migration.id);
        break;
      } catch (error) {
        if (sqlStateOf(error) !== SqlState.lockNotAvailable) throw error;
        const label = `${String(migration.id).padStart(4, '0')}_${migration.name}`;
        const longTransactions = await findLongTransactions(sql, lockTimeoutMs).catch(() => []);
        if (attempt >= attempts) {
          const pids = longTransactions.map((row) => row.pid).join(', ');
          throw new MigrationLockTimeoutError(
            `migration ${label} could not take its locks within ${lockTimeoutMs} ms in ${attempts} attempts: a long transaction holds a table it alters (${pids ? `sessions ${pids}, ` : ''}see pg_stat_activity and pg_locks); end it, or run chatd migrate when traffic is lower`,
            { cause: error },
          );
        }
        const delayMs = retryDelayMs * 2 ** (attempt - 1);
        options.logger?.warn(
          { migration: label, attempt, attempts, lockTimeoutMs, retryInMs: delayMs, longTransactions },
          'a migration timed out waiting for a lock and was rolled back; retrying',
        );
        await sleep(delayMs);
      }
    }
  }
  const [row] = await sql<[{ version: number | null }]>`SELECT max(id) AS version FROM chatd_migrations`;
  return { applied, version: row?.version ?? 0 };
}

/**
 * For `--migrate off`: checks, without writing, that the database has every migration of this build
 * ({@link SchemaTooOldError}: run `chatd migrate` of this release first) and nothing newer that this
 * build may not run on ({@link SchemaTooNewError}). Returns the schema version.
 */
export async function checkSchema(sql: Sql, migrations?: readonly Migration[]): Promise<number> {
  const all = migrations ?? (await loadMigrations());
  let recorded: RecordedMigration[];
  try {
    recorded = await readRecordedMigrations(sql);
  } catch (error) {
    if (sqlStateOf(error) !== SqlState.undefinedTable) throw error;
    recorded = [];
  }
  refuseUnknownMigrations(recorded, all);
  const have = new Set(recorded.map((row) => row.id));
  const missing = all.filter((migration) => !have.has(migration.id)).map((migration) => migration.id);
  if (missing.length > 0) {
    throw new SchemaTooOldError(
      `the database schema lacks migrations ${missing.join(', ')} that this chatd needs, and --migrate is off: run chatd migrate of this release once, then start the servers`,
    );
  }
  return recorded.at(-1)?.id ?? 0;
}

/** A session whose transaction has been open longer than a lock timeout: a likely blocker. */
export interface LongTransaction {
  readonly pid: number;
  readonly state: string | null;
  readonly transactionSeconds: number;
  readonly query: string | null;
}

/**
 * The oldest transactions of this database open longer than `olderThanMs`, for the retry log: which
 * session to end when a migration keeps timing out (the aborted attempt no longer knows whom it waited on).
 */
async function findLongTransactions(sql: Sql, olderThanMs: number): Promise<LongTransaction[]> {
  return sql<LongTransaction[]>`
    SELECT pid, state,
      round(extract(epoch FROM now() - xact_start)::numeric, 1)::float8 AS transaction_seconds,
      left(query, 200) AS query
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND xact_start < now() - make_interval(secs => ${olderThanMs / 1000})
    ORDER BY xact_start
    LIMIT 5`;
}

/** A row of `chatd_migrations`. */
interface RecordedMigration {
  readonly id: number;
  readonly expand: boolean;
}

async function ensureMigrationsTable(tx: Db): Promise<void> {
  await tx`
    CREATE TABLE IF NOT EXISTS chatd_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      expand boolean NOT NULL DEFAULT false
    )`;
  // Databases migrated before expand steps existed. Checked first: ALTER TABLE would take an ACCESS
  // EXCLUSIVE lock on every start, queueing readiness checks behind it.
  const [column] = await tx`
    SELECT 1 FROM pg_attribute
    WHERE attrelid = 'chatd_migrations'::regclass AND attname = 'expand' AND NOT attisdropped`;
  if (!column) await tx`ALTER TABLE chatd_migrations ADD COLUMN expand boolean NOT NULL DEFAULT false`;
}

/** In id order; `expand` read through to_jsonb so that a table without the column reads as false. */
async function readRecordedMigrations(db: Db): Promise<RecordedMigration[]> {
  return db<RecordedMigration[]>`
    SELECT id, coalesce((to_jsonb(m) ->> 'expand')::boolean, false) AS expand
    FROM chatd_migrations m ORDER BY id`;
}

/** Throws when the database has migrations this build does not know that are not expand steps. */
function refuseUnknownMigrations(recorded: readonly RecordedMigration[], all: readonly Migration[]): void {
  const known = new Set(all.map((migration) => migration.id));
  const newestKnown = all.at(-1)?.id ?? 0;
  const blocking = recorded.filter((row) => !known.has(row.id) && !row.expand).map((row) => row.id);
  if (blocking.length === 0) return;
  const newestRecorded = recorded.at(-1)?.id ?? 0;
  if (blocking.some((id) => id > newestKnown)) {
    throw new SchemaTooNewError(
      `the database schema is at version ${newestRecorded}, newer than this chatd knows (${newestKnown}); upgrade chatd`,
    );
  }
  throw new SchemaTooNewError(
    `the database has migrations this chatd does not know (${blocking.join(', ')}); upgrade chatd`,
  );
}

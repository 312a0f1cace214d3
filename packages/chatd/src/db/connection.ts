import postgres from 'postgres';
import { DatabaseUnavailableError } from '../errors.js';
import { poolConnectionTarget } from './multi-host-socket.js';
import { explainTlsError, type ResolvedPostgresUrl, redact, resolvePostgresUrl } from './postgres-url.js';
import { SqlState, sqlStateOf } from './sqlstate.js';

/** A postgres.js client or transaction: anything a named query can run on. */
export type Db = postgres.ISql;
/** A postgres.js client with a pool (not a transaction). */
export type Sql = postgres.Sql;

/** The oldest PostgreSQL chatd supports. */
export const MINIMUM_SERVER_VERSION_NUM = 130000;

/**
 * postgres.js's own default. It was 5 s: under a burst (5,000 chats created at once, each message claimed
 * and its turn started by the replica that accepted it) a replica's event loop lagged past that while
 * its pool grew, and each connection that timed out failed every request queued on it (54 of 5,000
 * creates, `CONNECT_TIMEOUT`). An unreachable server still fails at once (connection refused).
 */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 30;

/** Options for {@link connectDatabase}. */
export interface ConnectOptions {
  /** Pool size; default 10. */
  readonly maxConnections?: number;
  /**
   * Seconds to wait for a new connection before failing; default {@link DEFAULT_CONNECT_TIMEOUT_SECONDS}.
   * Every query queued on a connection being opened fails with it, so this must outlast a busy moment.
   */
  readonly connectTimeoutSeconds?: number;
  /** `application_name` shown in pg_stat_activity. */
  readonly applicationName?: string;
  /**
   * Named prepared statements (postgres.js `prepare`); default true. False behind a transaction-mode
   * pooler that does not track them (PgBouncer before 1.21, or `max_prepared_statements = 0`): each
   * transaction may run on another server connection, where the statement does not exist.
   */
  readonly preparedStatements?: boolean;
  /**
   * Whether postgres.js may pipeline: send a query on a connection whose previous query is still being
   * answered, when every connection is busy; default `preparedStatements`. False behind a
   * transaction-mode pooler: the store built on this pool (`createPostgresStore`) then runs at most one
   * query or transaction per connection at a time (a `ConnectionGate`), the others wait in
   * chatd, and connections are never closed for idleness or age (so one is always free for a permit).
   *
   * Why: PgBouncer (1.18 here; pgbouncer/pgbouncer#759) gives the server connection back to its pool at
   * the ReadyForQuery that ends a client's transaction, even when that client has already sent its next
   * query and the server is answering it. The answer arrives on a connection linked to no client and is
   * dropped (its log: "got packet '1' from server when not linked"); the query waits forever while every
   * backend is idle in ClientRead. postgres.js cannot be told not to pipeline: `max_pipeline: 1` still
   * sends one query behind the one in flight, and `max_pipeline: 0` breaks `sql.begin()`
   * (porsager/postgres#1210). `chatd scaletest run --through-pgbouncer` stalled this way at 200 chats
   * with depth 100 and at 500 chats with depth 1; without the gate, test/db/pgbouncer.test.ts stalls
   * a store on a pool of 4 in its first round of 40 queries.
   */
  readonly pipelining?: boolean;
}

/** Pools created with `pipelining: false`, and their size. */
const unpipelinedPools = new WeakMap<Sql, number>();

/**
 * The number of queries the pool may run at once without pipelining (its size), or undefined when it
 * may pipeline: see {@link ConnectOptions.pipelining}.
 */
export function unpipelinedPoolSize(sql: Sql): number | undefined {
  return unpipelinedPools.get(sql);
}

/**
 * Creates a postgres.js pool with chatd's conventions: camelCase column names, `bigint` as JS number
 * (ids and counters stay far below 2^53), `undefined` as NULL, notices dropped. The URL's libpq TLS
 * parameters (sslmode, sslrootcert, sslcert, sslkey) take libpq's meaning (see postgres-url.ts; the files
 * are read here, once); a multi-host URL with `target_session_attrs` walks its hosts (multi-host-socket.ts).
 * Throws {@link InvalidPostgresUrlError} for a URL it cannot use.
 */
export function createSql(url: string, options: ConnectOptions = {}): Sql {
  const resolved = resolvePostgresUrl(url);
  const target = poolConnectionTarget(resolved);
  const max = options.maxConnections ?? 10;
  const pipelining = options.pipelining ?? options.preparedStatements ?? true;
  const sql = postgres(target.url, {
    ssl: resolved.ssl,
    // postgres.js's `socket` option, missing from its TypeScript declarations (see multi-host-socket.ts).
    ...(target.socket ? ({ socket: target.socket } as object) : {}),
    max,
    connect_timeout: options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS,
    // Without pipelining a connection on its way out (idle, or at the end of its life) could leave a
    // permit of the gate without a free connection, and postgres.js would pipeline after all.
    idle_timeout: pipelining ? 60 : 0,
    ...(pipelining ? {} : { max_lifetime: null }),
    prepare: options.preparedStatements ?? true,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'chatd' },
    transform: { undefined: null, column: { from: postgres.toCamel } },
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  });
  if (!pipelining) unpipelinedPools.set(sql, max);
  return sql;
}

/**
 * Creates a pool and proves it works: one round trip, and the server is PostgreSQL 13 or newer.
 * Fails fast with a {@link DatabaseUnavailableError} that names the server (never the password).
 */
export async function connectDatabase(url: string, options: ConnectOptions = {}): Promise<Sql> {
  const resolved = resolvePostgresUrl(url);
  const sql = createSql(url, options);
  try {
    const probe = sql<[{ version: number }]>`SELECT current_setting('server_version_num')::int AS version`;
    const [row] =
      resolved.hosts.length > 1 ? await withinMultiHostBound(probe, resolved, options) : await probe;
    if (!row || row.version < MINIMUM_SERVER_VERSION_NUM) {
      throw new DatabaseUnavailableError(
        `PostgreSQL at ${describeUrl(url)} is version ${row?.version}; chatd needs PostgreSQL 13 or newer`,
      );
    }
    return sql;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    if (error instanceof DatabaseUnavailableError) throw error;
    throw new DatabaseUnavailableError(
      `cannot use PostgreSQL at ${describeUrl(url)}: ${explain(error, resolved)}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * postgres.js retries a multi-host connection attempt until a host qualifies, so a probe could wait
 * forever: bound it by the connect timeout per host.
 */
async function withinMultiHostBound<T>(
  probe: Promise<T>,
  resolved: ResolvedPostgresUrl,
  options: ConnectOptions,
): Promise<T> {
  const boundMs =
    (options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS) * 1000 * resolved.hosts.length;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const kind = resolved.targetSessionAttrs
        ? ` accepted a ${resolved.targetSessionAttrs} session`
        : ' answered';
      reject(
        new DatabaseUnavailableError(
          `cannot use PostgreSQL at ${resolved.description}: no host${kind} within ${boundMs} ms`,
        ),
      );
    }, boundMs);
  });
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A connection URL without its password, safe for logs and error messages. */
export function describeUrl(url: string): string {
  return redact(url);
}

function explain(error: unknown, resolved: ResolvedPostgresUrl): string {
  const tlsReason = explainTlsError(error, resolved);
  if (tlsReason) return tlsReason;
  const state = sqlStateOf(error);
  if (state === SqlState.invalidPassword) return 'password authentication failed';
  if (state === SqlState.invalidCatalogName) return 'the database does not exist';
  const code = (error as { code?: unknown })?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running, and is the port right?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (code === 'CONNECT_TIMEOUT') return 'connection timed out';
  return error instanceof Error ? error.message : String(error);
}

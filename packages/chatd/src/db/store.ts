import { type ConnectOptions, type Db, type Sql, unpipelinedPoolSize } from './connection.js';
import { ConnectionGate } from './connection-gate.js';
import { type QueryName, queries } from './queries/index.js';

type Queries = typeof queries;

/** A query with its connection bound: what callers of the {@link Store} see. */
type BoundQuery<Q> = Q extends (db: Db, ...args: infer A) => infer R ? (...args: A) => R : never;

/** The named queries, each bound to a connection. */
export type StoreQueries = { readonly [K in QueryName]: BoundQuery<Queries[K]> };

/**
 * chatd's data access: one named function per query (see `queries/`), plus transactions. Everything
 * above the database talks to this interface, so a wrapper (the metered store) can stand in front of
 * any implementation.
 */
export interface Store extends StoreQueries {
  /**
   * Runs `work` in a transaction; the store it receives runs every query inside it. Commits when `work`
   * resolves, rolls back when it throws. Nested calls use a savepoint.
   */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;
}

/** The names of every query of a {@link Store}. */
export const QUERY_NAMES: readonly QueryName[] = Object.freeze(Object.keys(queries) as QueryName[]);

/**
 * A {@link Store} on a postgres.js pool. On a pool that must not pipeline (created with `pipelining:
 * false`, behind a transaction-mode pooler), each query and each transaction first takes one of as many
 * permits as the pool has connections, so postgres.js always finds an idle connection and never sends a
 * query behind another (see {@link ConnectOptions.pipelining}); queries inside a transaction use its
 * connection and take none.
 */
export function createPostgresStore(sql: Sql): Store {
  const transaction: TransactionRunner = (work) =>
    sql.begin((tx) => work(bindStore(tx, savepointOf(tx)))) as never;
  const store = bindStore(sql, transaction);
  const size = unpipelinedPoolSize(sql);
  return size === undefined ? store : gated(store, new ConnectionGate(size));
}

/** `store` with every call (a query, or a whole transaction) run through `gate`. */
function gated(store: Store, gate: ConnectionGate): Store {
  const calls: Record<string, unknown> = {
    transaction: <T>(work: (tx: Store) => Promise<T>) => gate.run(() => store.transaction(work)),
  };
  for (const name of QUERY_NAMES) {
    const query = store[name] as (...args: unknown[]) => Promise<unknown>;
    calls[name] = (...args: unknown[]) => gate.run(() => query(...args));
  }
  return Object.freeze(calls) as unknown as Store;
}

type TransactionRunner = <T>(work: (tx: Store) => Promise<T>) => Promise<T>;

function savepointOf(tx: Db & { savepoint?: unknown }): TransactionRunner {
  const savepoint = tx.savepoint as <T>(fn: (inner: Db) => Promise<T>) => Promise<T>;
  return <T>(work: (tx: Store) => Promise<T>) =>
    savepoint.call(tx, (inner: Db) => work(bindStore(inner, savepointOf(inner)))) as Promise<T>;
}

function bindStore(db: Db, transaction: TransactionRunner): Store {
  const store: Record<string, unknown> = { transaction };
  for (const name of QUERY_NAMES) {
    const query = queries[name] as (db: Db, ...args: unknown[]) => unknown;
    store[name] = (...args: unknown[]) => query(db, ...args);
  }
  return Object.freeze(store) as unknown as Store;
}

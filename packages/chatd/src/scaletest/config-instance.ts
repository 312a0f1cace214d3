import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ChatConfigCache, type ChatConfigCacheOptions } from '../config/chat-config-cache.js';
import { registerConfigCacheMetrics } from '../config/config-cache-metrics.js';
import { startConfigInvalidation } from '../config/config-invalidation.js';
import { createSql, type Sql } from '../db/connection.js';
import { createMeteredStore } from '../db/metered-store.js';
import { QueryStats } from '../db/query-stats.js';
import { createPostgresStore, type Store } from '../db/store.js';
import type { BackoffOptions } from '../pubsub/backoff.js';
import { PostgresPubsub } from '../pubsub/postgres-pubsub.js';

/**
 * One chatd replica's configuration side, for tests and the propagation benchmark: its own pool,
 * metered store, pubsub connection and config cache, wired exactly as `chatd server` wires them.
 */
export interface ConfigInstance {
  readonly name: string;
  readonly sql: Sql;
  readonly store: Store;
  readonly stats: QueryStats;
  readonly pubsub: PostgresPubsub;
  readonly cache: ChatConfigCache;
  readonly registry: Registry;
  close(): Promise<void>;
}

/**
 * How an instance reaches the database when its pool goes through a transaction-mode pooler: the direct
 * URL of its listener (and publisher), and whether the pool prepares statements (as `chatd server`'s
 * `--postgres-listen-url` and `--postgres-prepared-statements`).
 */
export interface ConfigInstanceConnection {
  readonly listenUrl?: string;
  readonly preparedStatements?: boolean;
}

/** Starts an independent instance on `url` (as a replica would), with a distinctive listener name. */
export async function startConfigInstance(
  url: string,
  name: string,
  options: ChatConfigCacheOptions = {},
  /** Lets a test put a slow step in front of the cache's queries (the store stays real). */
  wrapStore: (store: Store) => Store = (store) => store,
  reconnect: BackoffOptions = { initialDelayMs: 20, maxDelayMs: 200 },
  connection: ConfigInstanceConnection = {},
): Promise<ConfigInstance> {
  const logger = pino({ level: 'silent' });
  const sql = createSql(url, {
    maxConnections: 4,
    ...(connection.preparedStatements === undefined
      ? {}
      : { preparedStatements: connection.preparedStatements }),
  });
  const stats = new QueryStats();
  const store = createMeteredStore(createPostgresStore(sql), stats);
  const registry = new Registry();
  const pubsub = await PostgresPubsub.connect(connection.listenUrl ?? url, {
    registry,
    logger,
    listenerApplicationName: `chatd-listener-${name}`,
    reconnect,
  });
  const cache = new ChatConfigCache(wrapStore(store), options);
  registerConfigCacheMetrics(registry, cache);
  const stop = await startConfigInvalidation({ pubsub, cache, store, logger });
  return {
    name,
    sql,
    store,
    stats,
    pubsub,
    cache,
    registry,
    async close() {
      await stop();
      await pubsub.close();
      await sql.end({ timeout: 5 });
    },
  };
}

/** Polls `condition` every 5 ms until it holds; fails after `timeoutMs` with `what`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

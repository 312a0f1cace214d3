import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { type CreatedUser, createFirstAdminIfNoUsers } from '../auth/users.js';
import { connectDatabase, type Sql } from '../db/connection.js';
import { type DatabaseLocation, locateDatabase } from '../db/database-location.js';
import { createMeteredStore } from '../db/metered-store.js';
import { migrate } from '../db/migrate.js';
import { QueryStats } from '../db/query-stats.js';
import { createPostgresStore, type Store } from '../db/store.js';
import { createHttpServer, httpUrl, type ListenAddress } from '../http/server.js';

/** Resolved, validated options of a chatd server (see `chatd server --help`). */
export interface ChatdServerOptions {
  readonly httpAddress: ListenAddress;
  readonly postgresUrl?: string | undefined;
  readonly cacheDir: string;
  readonly logger: Logger;
}

/** A running chatd server. */
export interface ChatdServer {
  /** The base URL of the HTTP API. */
  readonly url: string;
  readonly store: Store;
  readonly queryStats: QueryStats;
  readonly registry: Registry;
  /** Set when this start created the first admin: print its token once. */
  readonly firstAdmin: CreatedUser | undefined;
  /**
   * Stops in dependency order: HTTP first (no new work), then the database pool, then the embedded
   * PostgreSQL. Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * The composition root: database (embedded or external), migrations, store, first admin, HTTP.
 * Anything that fails half-way releases what was already started.
 */
export async function startChatdServer(options: ChatdServerOptions): Promise<ChatdServer> {
  const { logger } = options;
  const cleanups: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => logger.error({ err: error }, 'error during shutdown'));
    }
  };
  try {
    const location: DatabaseLocation = await locateDatabase({
      postgresUrl: options.postgresUrl,
      cacheDir: options.cacheDir,
      logger,
    });
    cleanups.push(() => location.release());
    const sql: Sql = await connectDatabase(location.url, { maxConnections: 20 });
    cleanups.push(() => sql.end({ timeout: 5 }));
    const migration = await migrate(sql);
    if (migration.applied.length > 0) {
      logger.info({ applied: migration.applied, version: migration.version }, 'applied database migrations');
    }

    const registry = new Registry();
    const queryStats = new QueryStats(registry);
    const store = createMeteredStore(createPostgresStore(sql), queryStats);
    const firstAdmin = await createFirstAdminIfNoUsers(store);

    const app: FastifyInstance = createHttpServer({ logger });
    cleanups.push(() => app.close());
    await app.listen({ host: options.httpAddress.host, port: options.httpAddress.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.httpAddress.port;
    const url = httpUrl(options.httpAddress.host, port);
    logger.info({ url, database: location.kind, hostname: hostname() }, 'chatd server started');

    let closing: Promise<void> | undefined;
    return {
      url,
      store,
      queryStats,
      registry,
      firstAdmin,
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

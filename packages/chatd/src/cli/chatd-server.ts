import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startAuthHousekeeping } from '../auth/auth-housekeeping.js';
import { type AuthServicesOptions, createAuthServices } from '../auth/auth-services.js';
import { type CreatedFirstAdmin, createFirstAdminIfNoUsers } from '../auth/users.js';
import { ChatEventHub } from '../chat/chat-events.js';
import { ChatMetrics } from '../chat/chat-metrics.js';
import { ChatRetention, type ChatRetentionOptions } from '../chat/chat-retention.js';
import { ChatService } from '../chat/chat-service.js';
import { TitleGenerator } from '../chat/chat-titles.js';
import { ChatWorker, type ChatWorkerOptions, DEFAULT_CHAT_WORKER_OPTIONS } from '../chat/chat-worker.js';
import { TurnInterrupts } from '../chat/turn-interrupts.js';
import { DEFAULT_NOTIFY_QUEUE_THRESHOLD, NotifyQueueMonitor } from '../cluster/notify-queue-monitor.js';
import { Readiness } from '../cluster/readiness.js';
import { ReplicaRegistry } from '../cluster/replica-registry.js';
import { ChatConfigCache, type ChatConfigCacheOptions } from '../config/chat-config-cache.js';
import { registerConfigCacheMetrics } from '../config/config-cache-metrics.js';
import { startConfigInvalidation } from '../config/config-invalidation.js';
import { connectDatabase, type Sql } from '../db/connection.js';
import { type DatabaseLocation, locateDatabase } from '../db/database-location.js';
import { createMeteredStore } from '../db/metered-store.js';
import { checkSchema, loadMigrations, migrate } from '../db/migrate.js';
import { QueryStats } from '../db/query-stats.js';
import { createPostgresStore, type Store } from '../db/store.js';
import { type ApiOptions, registerApi } from '../http/api.js';
import { startMetricsServer } from '../http/metrics-server.js';
import { registerReadinessRoute } from '../http/readiness-route.js';
import { createHttpServer, type HttpServerOptions, httpUrl, type ListenAddress } from '../http/server.js';
import { registerWebApp } from '../http/web-app.js';
import { checkNotificationDelivery, type DeliveryCheckResult } from '../pubsub/delivery-check.js';
import { PostgresPubsub } from '../pubsub/postgres-pubsub.js';
import { loadOrCreateSecretsKey, SECRETS_KEY_FILE, SecretBox } from '../secrets/secret-box.js';
import { verifySecretsKeys } from '../secrets/secrets-key-check.js';

/** Resolved, validated options of a chatd server (see `chatd server --help`). */
export interface ChatdServerOptions {
  readonly httpAddress: ListenAddress;
  readonly postgresUrl?: string | undefined;
  /**
   * A direct connection (no transaction-mode pooler) for the pubsub's listener and publisher, when
   * `postgresUrl` goes through one (`--postgres-listen-url`); default `postgresUrl`. LISTEN through
   * PgBouncer in transaction mode is accepted and then receives nothing. With it the pool never
   * pipelines (see `ConnectOptions.pipelining`).
   */
  readonly postgresListenUrl?: string | undefined;
  /** Named prepared statements on the pool (`--postgres-prepared-statements`); default true. */
  readonly postgresPreparedStatements?: boolean | undefined;
  readonly cacheDir: string;
  readonly logger: Logger;
  /** `/metrics` listens here when set. */
  readonly prometheusAddress?: ListenAddress | undefined;
  /**
   * The secrets key (32 bytes), or a list for rotation (the first encrypts, any decrypts); default:
   * generated once into `<cacheDir>/secrets-key`. The start refuses (`E_SECRETS_KEY_MISMATCH`) when no
   * key of it is the one the database records.
   */
  readonly secretsKey?: Buffer | readonly Buffer[] | undefined;
  /** Config cache settings; `enabled: false` is `--config-cache=off`. */
  readonly configCache?: ChatConfigCacheOptions;
  readonly worker?: Partial<ChatWorkerOptions>;
  /** This replica's id; default a random UUID per start. */
  readonly replicaId?: string;
  /** Replica heartbeat period; default 5 s. */
  readonly replicaHeartbeatMs?: number;
  /** Database pool size; default 20. */
  readonly maxDatabaseConnections?: number;
  /** Limits and timeouts of the HTTP API server (see `createHttpServer`); its defaults when unset. */
  readonly http?: Omit<HttpServerOptions, 'logger'>;
  /**
   * Wraps the store every component uses, for fault injection in tests (an acknowledgement lost after a
   * commit, a write that keeps failing); the identity when unset.
   */
  readonly decorateStore?: (store: Store) => Store;
  /** Passwords, sessions and login throttling. */
  readonly auth?: AuthServicesOptions;
  /** Per-user limits, stream settings and cookie flags of the HTTP API. */
  readonly api?: ApiOptions;
  /**
   * The web app at `/` (see `registerWebApp`): served by default from the `@chatd/web` build, or from
   * `root`; `false` (`--no-web`) serves the API only.
   */
  readonly webApp?: false | { readonly root?: string };
  /** Deletes chats untouched for `retentionMs` (`--chat-retention`); off when unset. */
  readonly chatRetention?: ChatRetentionOptions | undefined;
  /**
   * `auto` (default): apply missing migrations at start. `off` (`--migrate off`): apply nothing; the start
   * refuses a schema older than this build (`E_SCHEMA_TOO_OLD`: run `chatd migrate` of this release once).
   * Either refuses a schema newer by anything but expand steps (`E_SCHEMA_TOO_NEW`).
   */
  readonly migrate?: 'auto' | 'off';
  /** `lock_timeout` of each migration statement, retried (see `migrate`); default 5 s. */
  readonly migrationLockTimeoutMs?: number;
  /**
   * NOTIFY queue usage (0 to 1) above which the replica warns and is not ready
   * (`--notify-queue-threshold`, a percentage); default 0.5.
   */
  readonly notifyQueueThreshold?: number;
  /** How long the start-up check waits for its own notification (see `notificationDelivery`); default 5 s. */
  readonly notificationCheckTimeoutMs?: number;
}

/** A running chat server. */
export interface ChatdServer {
  /** The base URL of the HTTP API. */
  readonly url: string;
  /** The metrics URL, when `prometheusAddress` was given. */
  readonly metricsUrl: string | undefined;
  readonly replicaId: string;
  readonly store: Store;
  readonly queryStats: QueryStats;
  readonly registry: Registry;
  readonly configCache: ChatConfigCache;
  readonly worker: ChatWorker;
  readonly chatMetrics: ChatMetrics;
  /** Set when this start created the first admin: print its token and password once. */
  readonly firstAdmin: CreatedFirstAdmin | undefined;
  /** What `GET /readyz` reports. */
  readonly readiness: Readiness;
  /**
   * The start-up check that a notification reaches this replica's own listener (it warns when not: a
   * listener behind a transaction-mode pooler hears nothing); runs in the background after the start.
   */
  readonly notificationDelivery: Promise<DeliveryCheckResult>;
  /**
   * Stops in dependency order: the worker first (it drains: no more claims, `/readyz` answers 503,
   * running turns may finish for the shutdown grace period while HTTP still serves their streams, the
   * rest are given back for another replica), then HTTP, the replica row, pubsub, the database pool,
   * and the embedded PostgreSQL. Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * The composition root of a replica: database (embedded or external), migrations, store, first admin,
 * pubsub, the config cache and its invalidation, the chat worker, HTTP and metrics. Anything that fails
 * half-way releases what was already started.
 */
export async function startChatdServer(options: ChatdServerOptions): Promise<ChatdServer> {
  const { logger } = options;
  const cleanups: Array<[string, () => Promise<unknown>]> = [];
  const closeAll = async () => {
    for (const [name, cleanup] of cleanups.splice(0).reverse()) {
      logger.debug({ step: name }, 'shutting down');
      await cleanup().catch((error: unknown) =>
        logger.error({ err: error, step: name }, 'error during shutdown'),
      );
    }
  };
  try {
    const location: DatabaseLocation = await locateDatabase({
      postgresUrl: options.postgresUrl,
      cacheDir: options.cacheDir,
      logger,
    });
    cleanups.push(['database', () => location.release()]);
    const preparedStatements = options.postgresPreparedStatements ?? true;
    const sql: Sql = await connectDatabase(location.url, {
      maxConnections: options.maxDatabaseConnections ?? 20,
      preparedStatements,
      // A listen URL says the pool goes through a pooler: no pipelining there even with prepared
      // statements on (PgBouncer 1.21+ tracks them), as a pipelined query can lose its answer.
      pipelining: options.postgresListenUrl === undefined && preparedStatements,
    });
    cleanups.push(['database pool', () => sql.end({ timeout: 5 })]);
    const migrations = await loadMigrations();
    const knownSchemaVersion = migrations.at(-1)?.id ?? 0;
    if (options.migrate === 'off') {
      const version = await checkSchema(sql, migrations);
      logger.info(
        { version, knownSchemaVersion },
        'migrations are off: the schema has every migration of this build',
      );
    } else {
      const migration = await migrate(sql, migrations, {
        lockTimeoutMs: options.migrationLockTimeoutMs,
        logger,
      });
      if (migration.applied.length > 0) {
        logger.info(
          { applied: migration.applied, version: migration.version },
          'applied database migrations',
        );
      }
    }

    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'chatd_process_' });
    const queryStats = new QueryStats(registry);
    const metered = createMeteredStore(createPostgresStore(sql), queryStats);
    const store = options.decorateStore ? options.decorateStore(metered) : metered;
    // Before anything is created or served: a replica with another key must not store a single secret.
    const secretBox = await checkedSecretBox(options, store, logger, location.kind);
    const auth = createAuthServices(store, options.auth);
    const firstAdmin = await createFirstAdminIfNoUsers(store, auth.passwords);

    const replicaId = options.replicaId ?? randomUUID();
    // The listener must keep one backend for its whole life (its LISTENs belong to that backend), so it
    // connects past the pooler when there is one; the publisher goes with it (one direct connection more,
    // and its prepared statement stays on its backend).
    const pubsub = await PostgresPubsub.connect(options.postgresListenUrl ?? location.url, {
      registry,
      logger: logger.child({ component: 'pubsub' }),
      // A replica saturated by work answers its heartbeat late; only a connection silent this long is dead.
      heartbeatTimeoutMs: 15_000,
      preparedStatements:
        options.postgresListenUrl !== undefined || (options.postgresPreparedStatements ?? true),
    });
    cleanups.push(['pubsub', () => pubsub.close()]);
    // In the background: it waits for a notification, and must not hold up the start. Stopped before
    // the pubsub closes (cleanups run last in, first out).
    const stopDeliveryCheck = new AbortController();
    const notificationDelivery = checkNotificationDelivery({
      pubsub,
      logger: logger.child({ component: 'pubsub' }),
      timeoutMs: options.notificationCheckTimeoutMs ?? 5_000,
      signal: stopDeliveryCheck.signal,
    });
    cleanups.push([
      'notification delivery check',
      async () => {
        stopDeliveryCheck.abort();
        await notificationDelivery;
      },
    ]);

    const configCache = new ChatConfigCache(store, options.configCache);
    registerConfigCacheMetrics(registry, configCache);
    const stopInvalidation = await startConfigInvalidation({ pubsub, cache: configCache, store, logger });
    cleanups.push(['config invalidation', stopInvalidation]);
    // Tokens and sessions from memory from here on, dropped by the revocation notifications.
    cleanups.push(['credential cache', await auth.credentials.start(pubsub)]);

    const events = new ChatEventHub({ pubsub, replicaId, logger });
    await events.start();
    cleanups.push(['chat events', () => events.stop()]);
    const interrupts = new TurnInterrupts(pubsub);
    await interrupts.start();
    cleanups.push(['interrupts', () => interrupts.stop()]);

    const replica = new ReplicaRegistry({
      store,
      logger,
      id: replicaId,
      hostname: osHostname(),
      appliedVersion: () => configCache.appliedVersion,
      onDatabaseConfigVersion: (version) => {
        if (configCache.checkVersion(version)) {
          logger.warn(
            { databaseVersion: version, appliedVersion: configCache.appliedVersion },
            'a config change was not notified within a heartbeat (or its write was rolled back): config caches flushed. If this repeats, notifications are not arriving: is the listener behind a transaction-mode pooler? (see --postgres-listen-url)',
          );
        }
      },
      // A replica silent as long as a turn would be taken over from it is gone.
      expiryMs: options.worker?.staleAfterMs ?? DEFAULT_CHAT_WORKER_OPTIONS.staleAfterMs,
    });
    await replica.start(options.replicaHeartbeatMs ?? 5_000);
    cleanups.push(['replica registry', () => replica.stop()]);
    const notifyQueue = new NotifyQueueMonitor(
      { store, logger, registry },
      {
        threshold: options.notifyQueueThreshold ?? DEFAULT_NOTIFY_QUEUE_THRESHOLD,
        intervalMs: options.replicaHeartbeatMs ?? 5_000,
      },
    );
    await notifyQueue.start();
    cleanups.push(['notify queue monitor', async () => notifyQueue.stop()]);
    const stopHousekeeping = startAuthHousekeeping(auth, logger);
    cleanups.push(['auth housekeeping', async () => stopHousekeeping()]);
    if (options.chatRetention) {
      const retention = new ChatRetention({ store, events, logger, registry }, options.chatRetention);
      retention.start();
      cleanups.push(['chat retention', () => retention.stop()]);
    }

    const titles = new TitleGenerator(
      { store, configCache, secretBox, events, logger: logger.child({ component: 'titles' }) },
      options.worker?.turn,
    );
    // Pushed before the worker's: cleanups run last in, first out, so titles stop after the worker drained.
    cleanups.push(['titles', () => titles.stop()]);
    let worker: ChatWorker | undefined;
    const chatMetrics = new ChatMetrics(registry, () => worker?.runningTurns ?? 0);
    worker = new ChatWorker(
      {
        workerId: replicaId,
        store,
        configCache,
        events,
        interrupts,
        pubsub,
        secretBox,
        metrics: chatMetrics,
        logger,
        titles,
      },
      options.worker,
    );
    await worker.start();
    const startedWorker = worker;
    // Messages accepted here are claimed and answered here while this worker has room.
    const chatService = new ChatService({ store, configCache, events, interrupts, localTurns: worker });

    const readiness = new Readiness({
      store,
      knownSchemaVersion,
      listenerConnected: () => pubsub.connected,
      stopping: () => startedWorker.stopping,
      notifyQueueReason: () => notifyQueue.reason(),
    });
    const app: FastifyInstance = createHttpServer({ ...options.http, logger });
    registerReadinessRoute(app, () => readiness.reasons());
    registerApi(
      app,
      {
        store,
        configCache,
        chatService,
        events,
        secretBox,
        logger,
        passwords: auth.passwords,
        sessions: auth.sessions,
        login: auth.login,
        pubsub,
        credentials: auth.credentials,
      },
      options.api,
    );
    if (options.webApp !== false) registerWebApp(app, { root: options.webApp?.root, logger });
    cleanups.push(['http', () => app.close()]);
    // Stopped before HTTP closes (cleanups run last in, first out): while the worker drains, `/readyz`
    // says so and the streams of its turns stay open.
    cleanups.push(['chat worker', () => startedWorker.stop()]);
    // A deep accept queue: thousands of clients may connect at once (the kernel caps it at somaxconn).
    await app.listen({ host: options.httpAddress.host, port: options.httpAddress.port, backlog: 8192 });
    const url = httpUrl(options.httpAddress.host, listeningPort(app) ?? options.httpAddress.port);

    let metricsUrl: string | undefined;
    if (options.prometheusAddress) {
      const metrics = await startMetricsServer(registry, options.prometheusAddress);
      cleanups.push(['metrics server', () => metrics.close()]);
      metricsUrl = metrics.url;
    }
    logger.info({ url, metricsUrl, replicaId, database: location.kind }, 'chatd server started');

    let closing: Promise<void> | undefined;
    return {
      url,
      metricsUrl,
      replicaId,
      store,
      queryStats,
      registry,
      configCache,
      worker,
      chatMetrics,
      firstAdmin,
      readiness,
      notificationDelivery,
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

/**
 * The secret box of this replica, once the start check passed (see {@link verifySecretsKeys}): its
 * key, or one key of its list, is the one the database records.
 */
async function checkedSecretBox(
  options: ChatdServerOptions,
  store: Store,
  logger: Logger,
  database: DatabaseLocation['kind'],
): Promise<SecretBox> {
  const given = options.secretsKey === undefined ? undefined : [options.secretsKey].flat();
  const keys = given ?? [await loadOrCreateSecretsKey(options.cacheDir)];
  const generatedKeyFile = given ? undefined : path.join(options.cacheDir, SECRETS_KEY_FILE);
  const secretBox = new SecretBox(keys);
  const check = await verifySecretsKeys(store, keys, { generatedKeyFile });
  if (check.recordedNow) {
    logger.info(
      { verifiedSecrets: check.verifiedSecrets },
      'recorded the check value of the secrets key in the database: replicas with another key will refuse to start',
    );
  }
  if (check.recordedKeyIndex > 0) {
    logger.warn(
      { recordedKeyIndex: check.recordedKeyIndex },
      'the first --secrets-key is not the one the database records: new provider API keys are encrypted with it, the stored ones still with an older key; once every replica has the new key first, run chatd secrets rotate',
    );
  }
  if (generatedKeyFile && database === 'external') {
    logger.warn(
      { generatedKeyFile },
      'no --secrets-key: provider API keys are encrypted with a key generated in --cache-dir; replicas sharing this database must share the key (pass it to each with --secrets-key-file)',
    );
  }
  return secretBox;
}

function listeningPort(app: FastifyInstance): number | undefined {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : undefined;
}

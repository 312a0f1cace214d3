import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_LOGIN_THROTTLE_OPTIONS } from '../auth/login-throttle.js';
import { DEFAULT_SESSION_OPTIONS } from '../auth/sessions.js';
import { DEFAULT_CHAT_WORKER_OPTIONS } from '../chat/chat-worker.js';
import { DEFAULT_NOTIFY_QUEUE_THRESHOLD } from '../cluster/notify-queue-monitor.js';
import { DEFAULT_CHAT_CONFIG_CACHE_OPTIONS } from '../config/chat-config-cache.js';
import { DROPPED_REJECTION_MESSAGE, handleDroppedDriverRejections } from '../db/dropped-driver-rejections.js';
import { DEFAULT_MIGRATE_OPTIONS } from '../db/migrate.js';
import { DEFAULT_API_OPTIONS } from '../http/api.js';
import { DEFAULT_HTTP_TIMEOUTS, type ListenAddress, parseListenAddress } from '../http/server.js';
import { DEFAULT_IDLE_TIMEOUT_MS } from '../llm/index.js';
import { createLogger } from '../logging/logger.js';
import { startChatdServer } from './chatd-server.js';
import {
  databaseOptions,
  durationMs,
  formatDuration,
  longDurationMs,
  nonNegativeInteger,
  parsePostgresUrl,
  positiveInteger,
  resolveDatabaseOptions,
} from './options.js';
import { resolveSecretsKeys, secretsKeyOptions } from './secrets-options.js';
import { onShutdownSignal } from './shutdown-signals.js';

/** `chatd server`: every flag with its CHATD_* variable. */
export function serverCommand(): Command {
  const command = new Command('server')
    .description(
      'start the chatd server (applies migrations unless --migrate off; creates the first admin on an empty database)',
    )
    .addOption(
      new Option('--http-address <host:port>', 'address the HTTP API listens on')
        .env('CHATD_HTTP_ADDRESS')
        .default('127.0.0.1:3000')
        .argParser(addressOption),
    )
    .addOption(
      durationOption(
        '--http-headers-timeout <duration>',
        "a request's headers must arrive within this long of its first byte, or it is answered 408 and its connection closed (clients that trickle headers: slowloris)",
        'CHATD_HTTP_HEADERS_TIMEOUT',
        DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        '--http-request-timeout <duration>',
        'a whole request, headers and body, must arrive within this long, or it is answered 408 and its connection closed; at least --http-headers-timeout. It bounds receiving only: chat streams stay open as long as they are read',
        'CHATD_HTTP_REQUEST_TIMEOUT',
        DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
      ),
    )
    .addOption(
      durationOption(
        '--http-keep-alive-timeout <duration>',
        'how long an idle keep-alive connection is kept open between requests (keep it longer than the idle timeout of a proxy in front)',
        'CHATD_HTTP_KEEP_ALIVE_TIMEOUT',
        DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs,
      ),
    )
    .addOption(
      new Option(
        '--prometheus-address <host:port>',
        'serve Prometheus metrics at /metrics on this address (off by default)',
      )
        .env('CHATD_PROMETHEUS_ADDRESS')
        .argParser(addressOption),
    )
    .addOption(
      new Option(
        '--config-cache <mode>',
        'serve chat configuration from the cache, or read it from the database every turn',
      )
        .env('CHATD_CONFIG_CACHE')
        .choices(['on', 'off'])
        .default('on'),
    )
    .addOption(
      durationOption(
        '--config-cache-ttl <duration>',
        'how long cached providers, model configs and the system prompt are served before they are read again (500ms, 10s, 5m...). Every write reaches every replica at once through PostgreSQL notifications whatever this is, and a missed notification is caught by the version check of every replica heartbeat: it only bounds how long a change made with triggers disabled (such as a restore) can go unseen',
        'CHATD_CONFIG_CACHE_TTL',
        DEFAULT_CHAT_CONFIG_CACHE_OPTIONS.providersTtlMs,
      ),
    )
    .addOption(
      durationOption(
        '--user-prompt-cache-ttl <duration>',
        "the same for users' personal prompts",
        'CHATD_USER_PROMPT_CACHE_TTL',
        DEFAULT_CHAT_CONFIG_CACHE_OPTIONS.userPromptTtlMs,
      ),
    )
    .addOption(
      new Option('--max-concurrent-turns <n>', 'chat turns this replica runs at once')
        .env('CHATD_MAX_CONCURRENT_TURNS')
        .default(2000)
        .argParser(positiveInteger),
    )
    .addOption(
      durationOption(
        '--turn-idle-timeout <duration>',
        'a provider call that sends nothing for this long (no answer, or a stream that goes silent) is cut off and its turn ends in error, without a retry',
        'CHATD_TURN_IDLE_TIMEOUT',
        DEFAULT_IDLE_TIMEOUT_MS,
      ),
    )
    .addOption(
      durationOption(
        '--shutdown-grace <duration>',
        'on SIGINT or SIGTERM, how long running turns may finish before they are given back to another replica (a second signal exits at once)',
        'CHATD_SHUTDOWN_GRACE',
        DEFAULT_CHAT_WORKER_OPTIONS.shutdownGraceMs,
      ),
    )
    .addOption(
      durationOption(
        '--turn-heartbeat-interval <duration>',
        'how often a replica heartbeats its running turns and its registry row (a replica that lost a turn to another learns it within one interval)',
        'CHATD_TURN_HEARTBEAT_INTERVAL',
        DEFAULT_CHAT_WORKER_OPTIONS.heartbeatIntervalMs,
      ),
    )
    .addOption(
      durationOption(
        '--turn-takeover-after <duration>',
        'a running turn whose heartbeat is older than this is taken over by another replica (at most 3 times per turn, then the chat ends in error); a replica silent this long leaves the registry. At least 3 heartbeat intervals: a busy replica must not lose its turns',
        'CHATD_TURN_TAKEOVER_AFTER',
        DEFAULT_CHAT_WORKER_OPTIONS.staleAfterMs,
      ),
    )
    .addOption(
      new Option('--session-idle-timeout <duration>', 'a login session unused this long ends (12h, 7d...)')
        .env('CHATD_SESSION_IDLE_TIMEOUT')
        .default(DEFAULT_SESSION_OPTIONS.idleTimeoutMs, formatDuration(DEFAULT_SESSION_OPTIONS.idleTimeoutMs))
        .argParser(longDurationMs),
    )
    .addOption(
      new Option(
        '--session-lifetime <duration>',
        'a login session ends this long after login, however active',
      )
        .env('CHATD_SESSION_LIFETIME')
        .default(DEFAULT_SESSION_OPTIONS.lifetimeMs, formatDuration(DEFAULT_SESSION_OPTIONS.lifetimeMs))
        .argParser(longDurationMs),
    )
    .addOption(
      new Option(
        '--secure-cookies',
        'mark the session cookie Secure even when requests arrive over plain HTTP (set it when a TLS proxy is in front; requests over HTTPS always get it)',
      ).env('CHATD_SECURE_COOKIES'),
    )
    .addOption(
      new Option(
        '--no-web',
        'do not serve the web app at / (the API, /healthz and /readyz only): for a replica behind a proxy that serves the app itself, or an API-only deployment',
      ).env('CHATD_NO_WEB'),
    )
    .addOption(
      new Option(
        '--login-max-failures-per-user <n>',
        'failed logins per username within --login-failure-window before that username is refused (429) until the window ends; counted across all replicas',
      )
        .env('CHATD_LOGIN_MAX_FAILURES_PER_USER')
        .default(DEFAULT_LOGIN_THROTTLE_OPTIONS.maxFailuresPerUser)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--login-max-failures-per-address <n>',
        'the same per client address (behind a proxy, see --trust-proxy)',
      )
        .env('CHATD_LOGIN_MAX_FAILURES_PER_ADDRESS')
        .default(DEFAULT_LOGIN_THROTTLE_OPTIONS.maxFailuresPerAddress)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--login-failure-window <duration>', 'the window failed logins are counted in')
        .env('CHATD_LOGIN_FAILURE_WINDOW')
        .default(
          DEFAULT_LOGIN_THROTTLE_OPTIONS.windowMs,
          formatDuration(DEFAULT_LOGIN_THROTTLE_OPTIONS.windowMs),
        )
        .argParser(longDurationMs),
    )
    .addOption(
      new Option(
        '--max-new-chats-per-minute <n>',
        'chats one user may create per minute on each replica; more are answered 429 with Retry-After (0: no limit)',
      )
        .env('CHATD_MAX_NEW_CHATS_PER_MINUTE')
        .default(DEFAULT_API_OPTIONS.newChatsPerMinute)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option(
        '--max-messages-per-minute <n>',
        'messages (and retries) one user may send per minute on each replica (0: no limit)',
      )
        .env('CHATD_MAX_MESSAGES_PER_MINUTE')
        .default(DEFAULT_API_OPTIONS.messagesPerMinute)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option('--max-streams-per-user <n>', 'event streams one user may hold open at once on each replica')
        .env('CHATD_MAX_STREAMS_PER_USER')
        .default(DEFAULT_API_OPTIONS.maxStreamsPerUser)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--trust-proxy <proxies>',
        'the reverse proxies in front of chatd, as comma-separated addresses or CIDRs (10.0.0.0/8,::1) or a hop count (1): their X-Forwarded-For and X-Forwarded-Proto then give the client address (login throttling, limits, logs) and HTTPS (Secure cookies). Off by default: those headers are ignored',
      )
        .env('CHATD_TRUST_PROXY')
        .argParser(trustProxyOption),
    )
    .addOption(
      new Option(
        '--chat-retention <duration>',
        'delete chats untouched (updated_at: no message, answer or archive change) for this long, such as 90d, with all their messages; checked every hour, in batches, by one replica at a time; a chat with a turn pending or running is kept. Off by default',
      )
        .env('CHATD_CHAT_RETENTION')
        .argParser(longDurationMs),
    )
    .addOption(
      new Option(
        '--migrate <mode>',
        'auto: apply missing database migrations at start; off: apply none (run chatd migrate of each release once, before its servers) and refuse to start on a schema older than this build',
      )
        .env('CHATD_MIGRATE')
        .choices(['auto', 'off'])
        .default('auto'),
    )
    .addOption(migrationLockTimeoutOption())
    .addOption(
      new Option(
        '--notify-queue-threshold <percent>',
        "PostgreSQL's NOTIFY queue usage (pg_notification_queue_usage(), a percentage) above which the replica logs a warning and is not ready: a full queue makes every config and chat write fail",
      )
        .env('CHATD_NOTIFY_QUEUE_THRESHOLD')
        .default(DEFAULT_NOTIFY_QUEUE_THRESHOLD * 100)
        .argParser(percentOption),
    )
    .addOption(
      new Option('--database-pool-size <n>', 'connections in the database pool')
        .env('CHATD_DATABASE_POOL_SIZE')
        .default(20)
        .argParser(positiveInteger),
    );
  for (const option of secretsKeyOptions({
    key: 'key that encrypts provider API keys at rest: 32 bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32; default: generated once into --cache-dir). Every replica sharing a database must have it: one with another key refuses to start. A list NEW,OLD (comma-separated) encrypts with the first key and decrypts with any, for rotation (see chatd secrets rotate --help)',
    file: 'read the secrets key, or the list (one key per line, or comma-separated), from this file instead, so that it does not show in ps; not with --secrets-key',
  })) {
    command.addOption(option);
  }
  for (const option of databaseOptions()) command.addOption(option);
  command.addOption(
    new Option(
      '--postgres-listen-url <url>',
      'a direct connection to the same database for LISTEN/NOTIFY, when --postgres-url goes through a transaction-mode pooler such as PgBouncer (LISTEN through one is accepted and then receives nothing: config stays stale until its TTL, streams and interrupts stop crossing replicas); with it the pool never pipelines queries (at most one query or transaction per pool connection at a time)',
    )
      .env('CHATD_POSTGRES_LISTEN_URL')
      .argParser(parsePostgresUrl),
  );

  command.action(async (_options: unknown, self: Command) => {
    const database = await resolveDatabaseOptions(self);
    const secretsKeys = await resolveSecretsKeys(self);
    const flags = self.opts<{
      httpAddress: string | ListenAddress;
      httpHeadersTimeout: number;
      trustProxy?: string | number;
      httpRequestTimeout: number;
      httpKeepAliveTimeout: number;
      prometheusAddress?: ListenAddress;
      configCache: 'on' | 'off';
      configCacheTtl: number;
      userPromptCacheTtl: number;
      maxConcurrentTurns: number;
      databasePoolSize: number;
      turnIdleTimeout: number;
      shutdownGrace: number;
      turnHeartbeatInterval: number;
      turnTakeoverAfter: number;
      sessionIdleTimeout: number;
      sessionLifetime: number;
      secureCookies?: boolean;
      web: boolean;
      loginMaxFailuresPerUser: number;
      loginMaxFailuresPerAddress: number;
      loginFailureWindow: number;
      maxNewChatsPerMinute: number;
      maxMessagesPerMinute: number;
      maxStreamsPerUser: number;
      chatRetention?: number;
      migrate: 'auto' | 'off';
      migrationLockTimeout: number;
      notifyQueueThreshold: number;
      postgresListenUrl?: string;
    }>();
    if (flags.postgresListenUrl !== undefined && database.postgresUrl === undefined) {
      self.error('error: --postgres-listen-url needs --postgres-url (the embedded PostgreSQL has no pooler)');
    }
    if (flags.turnTakeoverAfter < 3 * flags.turnHeartbeatInterval) {
      self.error(
        `error: --turn-takeover-after (${formatDuration(flags.turnTakeoverAfter)}) must be at least 3 x --turn-heartbeat-interval (${formatDuration(flags.turnHeartbeatInterval)}), or a replica that is merely busy would lose its turns`,
      );
    }
    if (flags.httpHeadersTimeout > flags.httpRequestTimeout) {
      self.error(
        `error: --http-headers-timeout (${formatDuration(flags.httpHeadersTimeout)}) must not be longer than --http-request-timeout (${formatDuration(flags.httpRequestTimeout)}): the headers are part of the request`,
      );
    }
    const logger = createLogger(database.logLevel);
    handleDroppedDriverRejections((error) => logger.warn({ err: error }, DROPPED_REJECTION_MESSAGE));
    // The first SIGINT or SIGTERM shuts down cleanly; a second one exits at once. Listened for before the
    // start: a signal during the start (or right after "ready", from a supervisor that reads it) stops the
    // server cleanly once it is up, instead of killing it with the embedded PostgreSQL still running.
    const stopRequested = new Promise((resolve) =>
      onShutdownSignal({ command: 'chatd', skipped: 'a clean shutdown' }, resolve),
    );
    const chatd = await startChatdServer({
      // A default value does not go through the parser.
      httpAddress:
        typeof flags.httpAddress === 'string' ? parseListenAddress(flags.httpAddress) : flags.httpAddress,
      http: {
        headersTimeoutMs: flags.httpHeadersTimeout,
        requestTimeoutMs: flags.httpRequestTimeout,
        keepAliveTimeoutMs: flags.httpKeepAliveTimeout,
        ...(flags.trustProxy === undefined ? {} : { trustProxy: flags.trustProxy }),
      },
      prometheusAddress: flags.prometheusAddress,
      secretsKey: secretsKeys,
      postgresUrl: database.postgresUrl,
      postgresListenUrl: flags.postgresListenUrl,
      postgresPreparedStatements: database.postgresPreparedStatements !== 'off',
      cacheDir: database.cacheDir,
      configCache: {
        enabled: flags.configCache === 'on',
        providersTtlMs: flags.configCacheTtl,
        modelConfigTtlMs: flags.configCacheTtl,
        defaultModelConfigTtlMs: flags.configCacheTtl,
        systemPromptTtlMs: flags.configCacheTtl,
        userPromptTtlMs: flags.userPromptCacheTtl,
      },
      worker: {
        maxConcurrentTurns: flags.maxConcurrentTurns,
        shutdownGraceMs: flags.shutdownGrace,
        heartbeatIntervalMs: flags.turnHeartbeatInterval,
        staleAfterMs: flags.turnTakeoverAfter,
        turn: { idleTimeoutMs: flags.turnIdleTimeout },
      },
      replicaHeartbeatMs: flags.turnHeartbeatInterval,
      auth: {
        sessions: { idleTimeoutMs: flags.sessionIdleTimeout, lifetimeMs: flags.sessionLifetime },
        loginThrottle: {
          maxFailuresPerUser: flags.loginMaxFailuresPerUser,
          maxFailuresPerAddress: flags.loginMaxFailuresPerAddress,
          windowMs: flags.loginFailureWindow,
        },
      },
      api: {
        secureCookies: flags.secureCookies === true,
        newChatsPerMinute: flags.maxNewChatsPerMinute,
        messagesPerMinute: flags.maxMessagesPerMinute,
        maxStreamsPerUser: flags.maxStreamsPerUser,
      },
      ...(flags.web ? {} : { webApp: false }),
      maxDatabaseConnections: flags.databasePoolSize,
      migrate: flags.migrate,
      migrationLockTimeoutMs: flags.migrationLockTimeout,
      notifyQueueThreshold: flags.notifyQueueThreshold / 100,
      chatRetention: flags.chatRetention === undefined ? undefined : { retentionMs: flags.chatRetention },
      logger,
    });
    const lines = [`chatd is ready at ${chatd.url}`];
    if (chatd.metricsUrl) lines.push(`metrics at ${chatd.metricsUrl}`);
    if (chatd.firstAdmin) {
      lines.push(
        '',
        `Created the first admin user '${chatd.firstAdmin.user.username}'. Its API token is:`,
        '',
        `    ${chatd.firstAdmin.token}`,
        '',
        'Use it as "Authorization: Bearer <token>". To log in with a browser, the password is:',
        '',
        `    ${chatd.firstAdmin.password}`,
        '',
        'Store both now: they will not be shown again (change the password after logging in).',
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    await stopRequested;
    logger.info('shutting down');
    await chatd.close();
    logger.flush();
  });
  return command;
}

/** `--migration-lock-timeout`, on `chatd server` and `chatd migrate`. */
export function migrationLockTimeoutOption(): Option {
  return durationOption(
    '--migration-lock-timeout <duration>',
    'a migration statement that cannot take its table lock this soon is rolled back and retried (5 attempts, the pause doubling from 1s), so that it never queues every query on the table behind a long transaction',
    'CHATD_MIGRATION_LOCK_TIMEOUT',
    DEFAULT_MIGRATE_OPTIONS.lockTimeoutMs,
  );
}

/** A duration flag (`500ms`, `10s`, `5m`) with its variable and default, in ms once parsed. */
function durationOption(flags: string, description: string, variable: string, defaultMs: number): Option {
  return new Option(flags, description)
    .env(variable)
    .default(defaultMs, formatDuration(defaultMs))
    .argParser(durationMs);
}

/** `--trust-proxy`: a hop count, or a list of addresses and CIDRs checked by Fastify's proxy-addr. */
function trustProxyOption(value: string): string | number {
  const trimmed = value.trim();
  if (/^\d{1,2}$/.test(trimmed) && Number(trimmed) > 0) return Number(trimmed);
  const entries = trimmed.split(',').map((entry) => entry.trim());
  const address = /^(?:[0-9.]+|[0-9a-fA-F:.]+)(?:\/\d{1,3})?$/;
  if (entries.length === 0 || entries.some((entry) => !address.test(entry) || !entry.match(/[.:]/))) {
    throw new InvalidArgumentError(
      'expected a hop count (1) or comma-separated addresses or CIDRs (10.0.0.0/8,::1)',
    );
  }
  return entries.join(',');
}

/** A percentage above 0 and at most 100 (decimals allowed: `0.5`). */
function percentOption(value: string): number {
  const percent = Number(value.trim().replace(/%$/, ''));
  if (!Number.isFinite(percent) || percent <= 0 || percent > 100 || value.trim() === '') {
    throw new InvalidArgumentError('expected a percentage above 0 and at most 100, such as 50');
  }
  return percent;
}

function addressOption(value: string): ListenAddress {
  try {
    return parseListenAddress(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createUserWithToken } from '../auth/users.js';
import {
  CONFIG_CACHE_NAMES,
  CONFIG_CACHE_QUERIES,
  type ConfigCacheName,
} from '../config/chat-config-cache.js';
import { connectDatabase } from '../db/connection.js';
import { createPostgresStore } from '../db/store.js';
import { type ChatLoadReport, formatLoopDelay, formatRetries, runChatLoad } from './chat-load.js';
import { ChatdClient } from './chatd-client.js';
import { queryCounts, scrapeMetrics } from './child-process.js';
import type { Cleanups } from './cleanups.js';
import { startLlmMockChild } from './llm-mock-child.js';
import { formatMs } from './percentiles.js';
import { startPgbouncer } from './pgbouncer.js';
import { processTreeCpuSeconds, readProcessTable } from './process-cpu.js';
import { type ReplicaProcess, startReplica } from './replica-process.js';
import { openScratchDatabase } from './scratch-database.js';
import { runUntilStopped, ScaleTestStoppedError } from './stoppable-run.js';

/** The config queries the config cache serves, by the cache that serves them. */
const CONFIG_QUERIES: ReadonlySet<string> = new Set(Object.values(CONFIG_CACHE_QUERIES));

/** How long the scale test waits for a replica to apply a config change before calling it lost. */
const PROPAGATION_TIMEOUT_MS = 60_000;

/** Options of {@link runScaleTest}. */
export interface ScaleTestOptions {
  readonly replicas: number;
  readonly chats: number;
  readonly turns: number;
  /**
   * Users the chats belong to (chat i is user i mod n), each with a personal prompt; default 1: one admin
   * runs every chat.
   */
  readonly users?: number;
  /** Config cache on or off in the replicas. */
  readonly configCache: boolean;
  /** The replicas' `--config-cache-ttl` in ms; their default when undefined. */
  readonly configCacheTtlMs?: number | undefined;
  /** The replicas' `--user-prompt-cache-ttl` in ms; their default when undefined. */
  readonly userPromptCacheTtlMs?: number | undefined;
  readonly postgresUrl?: string | undefined;
  /**
   * Put a PgBouncer of its own (transaction mode) between the replicas' pools and the database; their
   * listeners connect directly (`--postgres-listen-url`), prepared statements off.
   */
  readonly throughPgbouncer?: boolean | undefined;
  /** Mock LLM pacing. */
  readonly llmLatencyMs: number;
  readonly llmChunkDelayMs: number;
  readonly llmResponseTokens: number;
  /** Change the user prompt and a model config during the run, and time their propagation. */
  readonly changeConfig: boolean;
  /** How long one turn may take before the chat counts as failed (see `runChatLoad`). */
  readonly turnTimeoutMs?: number;
  /**
   * Stops the run: it rejects with {@link ScaleTestStoppedError} once every process it started is
   * stopped and every scratch file removed.
   */
  readonly signal?: AbortSignal;
  readonly onProgress?: (line: string) => void;
}

/** How long each replica took to apply one config change. */
export interface PropagationSample {
  readonly change: string;
  /** ms from the commit of the change to each replica applying it (by replica index). */
  readonly applyMs: readonly number[];
  /** Why the change could not be made or timed, when it could not. */
  readonly error?: string;
}

/** Everything one scale test run measured. */
export interface ScaleTestReport {
  readonly options: Omit<ScaleTestOptions, 'onProgress' | 'postgresUrl' | 'signal'>;
  readonly load: ChatLoadReport;
  /** Calls per query name, summed over every replica, from their Prometheus metrics. */
  readonly queries: Readonly<Record<string, number>>;
  /** Seconds each replica ran (start to final scrape). */
  readonly replicaSeconds: readonly number[];
  /** Each replica's config cache TTLs in seconds, as its metrics report them. */
  readonly cacheTtlSeconds: readonly Readonly<Record<ConfigCacheName, number>>[];
  readonly peakRssBytes: readonly (number | undefined)[];
  readonly propagation: readonly PropagationSample[];
  /**
   * Invalidations the replicas applied, by cache: `notify` drops one entry (a change notification);
   * `flush` drops them all (a listener reset, or its distrust while disconnected).
   */
  readonly invalidations: Readonly<
    Record<ConfigCacheName, { readonly notify: number; readonly flush: number }>
  >;
  /** Pubsub listener reconnects of each replica during the run (each one flushes caches and resyncs streams). */
  readonly pubsubReconnects: readonly number[];
  /**
   * Notifications the replicas sent, summed, by channel: each one a `pg_notify` statement that the named
   * query counts leave out (the config triggers' notifications are part of the statements that wrote).
   */
  readonly notificationsSent: Readonly<Record<string, number>>;
  /** CPU seconds each part used during the chat load. */
  readonly cpuSeconds: CpuSeconds;
}

/** CPU seconds (user + system) used during the chat load; undefined where they could not be read. */
export interface CpuSeconds {
  /** Each chatd replica. */
  readonly replicas: readonly (number | undefined)[];
  /** The embedded PostgreSQL with all its backends; undefined on a `--postgres-url` server. */
  readonly postgres: number | undefined;
  readonly llmMock: number | undefined;
  /** This process: the load generator and the orchestration. */
  readonly loadClient: number;
}

export { ScaleTestStoppedError } from './stoppable-run.js';

/**
 * The whole measurement on one machine: a scratch PostgreSQL, a mock LLM and `replicas` chatd servers as
 * child processes, a user, a provider and a model config; then the chat load; then every replica's query
 * counts. Whatever happens (a failure, or `signal`), everything it started is stopped before it settles.
 */
export async function runScaleTest(options: ScaleTestOptions): Promise<ScaleTestReport> {
  return runUntilStopped(options.signal, (cleanups) => measure(options, cleanups));
}

async function measure(options: ScaleTestOptions, cleanups: Cleanups): Promise<ScaleTestReport> {
  const say = options.onProgress ?? (() => {});
  // Checked between steps: a stopped run starts nothing more.
  const checkStopped = () => {
    if (options.signal?.aborted) throw new ScaleTestStoppedError();
  };
  say('starting PostgreSQL');
  const database = await openScratchDatabase({
    postgresUrl: options.postgresUrl,
    maxConnections: 50 + options.replicas * 40,
  });
  cleanups.push(() => database.close());
  checkStopped();
  let replicaDatabaseUrl = database.url;
  if (options.throughPgbouncer) {
    say('starting PgBouncer (transaction mode)');
    // Server connections enough for every replica's pool: the pooler must not be what is measured.
    const bouncer = await startPgbouncer(database.url, { poolSize: options.replicas * 30 });
    cleanups.push(() => bouncer.stop());
    replicaDatabaseUrl = bouncer.url(database.url);
    checkStopped();
  }

  say('starting the mock LLM');
  const { url: llmUrl, pid: llmMockPid } = await startLlmMockChild(options, cleanups);
  checkStopped();

  // Seed through the store: an admin token for the load, a provider, a default model config.
  const sql = await connectDatabase(database.url, { maxConnections: 2 });
  cleanups.push(() => sql.end());
  const store = createPostgresStore(sql);
  const { token } = await createUserWithToken(store, { username: 'scaletest', role: 'admin' });
  const users = options.users ?? 1;
  // One user: the admin runs every chat. More: members with prompts of their own.
  const tokens = users === 1 ? [token] : [];
  if (users > 1) {
    say(`creating ${users} users`);
    for (let index = 0; index < users; index++) {
      const member = await createUserWithToken(store, { username: `scaletest-${index}`, role: 'member' });
      await store.upsertUserChatPrompt(member.user.id, `You talk to scale test user ${index}.`);
      tokens.push(member.token);
    }
  }

  say(`starting ${options.replicas} chatd replicas (config cache ${options.configCache ? 'on' : 'off'})`);
  const secretsKey = randomBytes(32).toString('hex');
  const replicas: ReplicaProcess[] = [];
  for (let index = 0; index < options.replicas; index++) {
    checkStopped();
    replicas.push(
      await startReplica(
        {
          index,
          databaseUrl: replicaDatabaseUrl,
          ...(options.throughPgbouncer ? { listenUrl: database.url } : {}),
          secretsKey,
          configCache: options.configCache,
          configCacheTtlMs: options.configCacheTtlMs,
          userPromptCacheTtlMs: options.userPromptCacheTtlMs,
        },
        cleanups,
      ),
    );
  }
  checkStopped();
  const admin = new ChatdClient(replicas[0]!.url, token);
  // The prompt the mid-run change edits belongs to the first chat's user, so it is an entry in use.
  const promptOwner = new ChatdClient(replicas[0]!.url, tokens[0]!);
  const provider = await admin.request<{ id: string }>('POST', '/api/v1/chat/providers', {
    provider: 'openai-compat',
    display_name: 'Mock LLM',
    base_url: llmUrl,
    api_key: 'sk-scaletest',
  });
  const modelConfig = await admin.request<{ id: string }>('POST', '/api/v1/chat/model-configs', {
    provider_id: provider.id,
    model: 'mock-model',
    display_name: 'Mock model',
    context_limit: 128_000,
    is_default: true,
    options: { temperature: 0.7 },
  });
  await admin.request('PUT', '/api/v1/chat/config/user-prompt', { custom_prompt: 'Be concise.' });

  // Config changes at a third and two thirds of the turns, each timed on every replica.
  const propagation: PropagationSample[] = [];
  const pendingChanges: Array<Promise<void>> = [];
  const totalTurns = options.chats * options.turns;
  const changes = options.changeConfig
    ? [
        {
          at: Math.ceil(totalTurns / 3),
          name: 'user prompt',
          write: () =>
            promptOwner.request('PUT', '/api/v1/chat/config/user-prompt', { custom_prompt: 'Be brief.' }),
        },
        {
          at: Math.ceil((2 * totalTurns) / 3),
          name: 'model config',
          write: () =>
            admin.request('PATCH', `/api/v1/chat/model-configs/${modelConfig.id}`, {
              options: { temperature: 0.5 },
            }),
        },
      ]
    : [];
  let nextChange = 0;
  /** Makes one change and times it on every replica. Never rejects: a failure is recorded. */
  const measureChange = async (change: (typeof changes)[number]) => {
    try {
      await change.write();
      const committedAt = performance.now();
      const version = await store.getConfigVersion();
      const applyMs = await Promise.all(
        replicas.map(async (replica) => {
          // A replica that has not applied the change within the bound is reported as Infinity.
          while (performance.now() - committedAt < PROPAGATION_TIMEOUT_MS && !options.signal?.aborted) {
            const metrics = await scrapeMetrics(replica.metricsUrl);
            if ((metrics.get('chatd_config_version_applied') ?? 0) >= version) {
              return performance.now() - committedAt;
            }
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
          return Number.POSITIVE_INFINITY;
        }),
      );
      propagation.push({ change: change.name, applyMs });
    } catch (error) {
      propagation.push({
        change: change.name,
        applyMs: replicas.map(() => Number.POSITIVE_INFINITY),
        error: (error as Error).message,
      });
    }
  };

  say(`running ${options.chats} chats x ${options.turns} turns${users > 1 ? ` of ${users} users` : ''}`);
  const cpuSnapshot = async () => {
    const table = (await readProcessTable()) ?? [];
    const cpuOf = (pid: number | undefined) =>
      pid === undefined ? undefined : processTreeCpuSeconds(pid, table);
    return {
      replicas: replicas.map((replica) => cpuOf(replica.process.child.pid)),
      postgres: cpuOf(database.serverPid),
      llmMock: cpuOf(llmMockPid),
      loadClient: process.cpuUsage(),
    };
  };
  const cpuBefore = await cpuSnapshot();
  const isTty = process.stderr.isTTY === true;
  const load = await runChatLoad({
    urls: replicas.map((replica) => replica.url),
    tokens,
    chats: options.chats,
    turns: options.turns,
    modelConfigId: modelConfig.id,
    turnTimeoutMs: options.turnTimeoutMs,
    onProgress: ({ completedTurns, failedChats }) => {
      // `changes` stays whole (the report orders its samples by it); `nextChange` walks it.
      while (nextChange < changes.length && completedTurns >= changes[nextChange]!.at) {
        if (options.signal?.aborted) break;
        pendingChanges.push(measureChange(changes[nextChange]!));
        nextChange += 1;
      }
      if (isTty) {
        const width = 30;
        const done = Math.round((completedTurns / totalTurns) * width);
        process.stderr.write(
          `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${completedTurns}/${totalTurns} turns, ${failedChats} failed chats `,
        );
      }
    },
  });
  const cpuAfter = await cpuSnapshot();
  if (isTty) process.stderr.write('\n');
  await Promise.all(pendingChanges);
  const loadClientCpu = process.cpuUsage(cpuBefore.loadClient);
  const cpuSeconds: CpuSeconds = {
    replicas: cpuAfter.replicas.map((after, index) => difference(after, cpuBefore.replicas[index])),
    postgres: difference(cpuAfter.postgres, cpuBefore.postgres),
    llmMock: difference(cpuAfter.llmMock, cpuBefore.llmMock),
    loadClient: (loadClientCpu.user + loadClientCpu.system) / 1e6,
  };
  if (Object.values(load.failures).some((count) => count > 0)) {
    // The replicas' own account of what went wrong (they log at warn level).
    for (const [index, replica] of replicas.entries()) {
      say(`replica ${index} log tail:\n${replica.process.stderr().slice(-4000)}`);
    }
  }

  checkStopped();
  const queries: Record<string, number> = {};
  const invalidations = Object.fromEntries(
    CONFIG_CACHE_NAMES.map((name) => [name, { notify: 0, flush: 0 }]),
  ) as Record<ConfigCacheName, { notify: number; flush: number }>;
  const replicaSeconds: number[] = [];
  const cacheTtlSeconds: Array<Record<ConfigCacheName, number>> = [];
  const pubsubReconnects: number[] = [];
  const notificationsSent: Record<string, number> = {};
  for (const replica of replicas) {
    const metrics = await scrapeMetrics(replica.metricsUrl);
    pubsubReconnects.push(metrics.get('chatd_pubsub_reconnects_total') ?? 0);
    replicaSeconds.push((performance.now() - replica.startedAt) / 1000);
    const ttls = {} as Record<ConfigCacheName, number>;
    for (const name of CONFIG_CACHE_NAMES) {
      ttls[name] = metrics.get(`chatd_config_cache_ttl_seconds{cache="${name}"}`) ?? Number.NaN;
    }
    cacheTtlSeconds.push(ttls);
    for (const [name, calls] of queryCounts(metrics)) queries[name] = (queries[name] ?? 0) + calls;
    for (const [key, value] of metrics) {
      const sent = /^chatd_pubsub_notifications_sent_total\{channel="([^"]+)"\}$/.exec(key);
      if (sent) notificationsSent[sent[1]!] = (notificationsSent[sent[1]!] ?? 0) + value;
      const match = /^chatd_config_cache_invalidations_total\{cache="([a-z_]+)",source="([a-z]+)"\}$/.exec(
        key,
      );
      const counts = match ? invalidations[match[1] as ConfigCacheName] : undefined;
      if (!counts) continue;
      if (match![2] === 'notify') counts.notify += value;
      else counts.flush += value;
    }
  }
  const peakRssBytes = await Promise.all(replicas.map((replica) => replica.process.peakRss()));
  const { onProgress: _, postgresUrl: __, signal: ___, ...reported } = options;
  return {
    options: reported,
    load,
    queries,
    replicaSeconds,
    cacheTtlSeconds,
    peakRssBytes,
    // Measured concurrently, so recorded as each finished: reported in the order the changes were made.
    propagation: [...propagation].sort(
      (a, b) =>
        changes.findIndex((change) => change.name === a.change) -
        changes.findIndex((change) => change.name === b.change),
    ),
    invalidations,
    pubsubReconnects,
    notificationsSent,
    cpuSeconds,
  };
}

/** Notifications per turn by channel, and their sum, as `chat:events 0.31, ... (0.33 in all)`. */
function formatNotifications(report: ScaleTestReport): string {
  const turns = Math.max(1, report.load.completedTurns);
  const entries = Object.entries(report.notificationsSent).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return 'none';
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  const each = entries.map(([channel, count]) => `${channel} ${(count / turns).toFixed(2)}`).join(', ');
  return `${each} (${(total / turns).toFixed(2)} in all)`;
}

function difference(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined || before === undefined ? undefined : after - before;
}

/**
 * The most calls a run with the cache on may make of one config cache's query: each replica reloads each
 * entry at most once per TTL over its lifetime (plus the first load), plus once per entry an
 * invalidation dropped.
 */
export function configQueryBound(report: ScaleTestReport, cache: ConfigCacheName): number {
  // One entry for each cache but the user prompts, which have one per user. A notification drops one
  // entry; a flush drops every entry of the replica that flushed.
  const entries = cache === 'user_prompt' ? (report.options.users ?? 1) : 1;
  const perReplica = report.replicaSeconds.reduce(
    (sum, seconds, index) => sum + Math.ceil(seconds / report.cacheTtlSeconds[index]![cache]) + 1,
    0,
  );
  const { notify, flush } = report.invalidations[cache];
  return perReplica * entries + notify + flush * entries;
}

/** The reference's table: query | calls | calls per 1,000 turns; with a second report, both and the reduction. */
export function formatScaleTestReport(on: ScaleTestReport, off?: ScaleTestReport): string {
  const lines: string[] = [];
  const perThousand = (calls: number, report: ScaleTestReport) =>
    report.load.completedTurns === 0 ? 'n/a' : ((calls / report.load.completedTurns) * 1000).toFixed(1);
  const names = [...new Set([...Object.keys(on.queries), ...Object.keys(off?.queries ?? {})])].sort(
    (x, y) => (off?.queries[y] ?? on.queries[y] ?? 0) - (off?.queries[x] ?? on.queries[x] ?? 0),
  );
  const label = (report: ScaleTestReport) => `cache ${report.options.configCache ? 'on' : 'off'}`;
  if (off) {
    lines.push(
      `| query | calls (${label(on)}) | per 1,000 turns | calls (${label(off)}) | per 1,000 turns | reduction |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const name of names) {
      const a = on.queries[name] ?? 0;
      const b = off.queries[name] ?? 0;
      const reduction = b === 0 ? 'n/a' : `${(((b - a) / b) * 100).toFixed(2)}%`;
      const mark = CONFIG_QUERIES.has(name) ? ' (config)' : '';
      lines.push(
        `| ${name}${mark} | ${a} | ${perThousand(a, on)} | ${b} | ${perThousand(b, off)} | ${reduction} |`,
      );
    }
  } else {
    lines.push(`| query | calls (${label(on)}) | per 1,000 turns |`, '| --- | ---: | ---: |');
    for (const name of names) {
      const a = on.queries[name] ?? 0;
      lines.push(`| ${name}${CONFIG_QUERIES.has(name) ? ' (config)' : ''} | ${a} | ${perThousand(a, on)} |`);
    }
  }
  lines.push(
    '',
    '| run | turns | failed chats | turns/s | statements/turn | turn p50 ms | turn p99 ms | first output p50 ms | peak RSS per replica |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const report of off ? [on, off] : [on]) {
    const total = Object.values(report.queries).reduce((sum, calls) => sum + calls, 0);
    const failed = Object.values(report.load.failures).reduce((sum, n) => sum + n, 0);
    const rss = report.peakRssBytes.map((bytes) =>
      bytes === undefined ? 'n/a' : `${Math.round(bytes / 2 ** 20)} MiB`,
    );
    lines.push(
      `| ${label(report)} | ${report.load.completedTurns} | ${failed} | ${report.load.turnsPerSecond.toFixed(1)} | ${(total / Math.max(1, report.load.completedTurns)).toFixed(2)} | ${formatMs(report.load.turnDurationMs.p50)} | ${formatMs(report.load.turnDurationMs.p99)} | ${formatMs(report.load.timeToFirstOutputMs.p50)} | ${rss.join(', ')} |`,
    );
  }
  lines.push(
    '',
    '| CPU ms per turn | chatd replicas | PostgreSQL | mock LLM | load client | total |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const report of off ? [on, off] : [on]) {
    const { replicas, postgres, llmMock, loadClient } = report.cpuSeconds;
    const turns = Math.max(1, report.load.completedTurns);
    const parts = [sumOrUndefined(replicas), postgres, llmMock, loadClient];
    const cell = (seconds: number | undefined) =>
      seconds === undefined ? 'n/a' : ((seconds * 1000) / turns).toFixed(2);
    lines.push(`| ${label(report)} | ${[...parts, sumOrUndefined(parts)].map(cell).join(' | ')} |`);
  }
  for (const report of off ? [on, off] : [on]) {
    lines.push(
      '',
      `${label(report)}: pubsub reconnects per replica: ${report.pubsubReconnects.join(', ')}; ${formatRetries(report.load)}; ${formatLoopDelay(report.load)}`,
      `${label(report)}: notifications sent per turn (pg_notify statements, not in statements/turn): ${formatNotifications(report)}`,
    );
    for (const sample of report.load.failureSamples) lines.push(`${label(report)}: failure: ${sample}`);
    for (const sample of report.propagation) {
      lines.push(
        '',
        sample.error === undefined
          ? `${label(report)}: ${sample.change} change applied by every replica in ${sample.applyMs.map((ms) => `${formatMs(ms)} ms`).join(', ')} (from commit)`
          : `${label(report)}: ${sample.change} change failed: ${sample.error}`,
      );
    }
  }
  if (on.options.configCache) {
    const users = on.options.users ?? 1;
    lines.push(
      '',
      `config queries against their bound (replicas x (seconds / TTL + 1) x entries + entries invalidated; user prompts have one entry per user, ${users} here):`,
    );
    for (const cache of CONFIG_CACHE_NAMES) {
      const query = CONFIG_CACHE_QUERIES[cache];
      const ttls = [...new Set(on.cacheTtlSeconds.map((ttl) => `${ttl[cache]} s`))].join(', ');
      lines.push(`- ${query} (TTL ${ttls}): ${on.queries[query] ?? 0} <= ${configQueryBound(on, cache)}`);
    }
  }
  return lines.join('\n');
}

function sumOrUndefined(values: readonly (number | undefined)[]): number | undefined {
  let sum = 0;
  for (const value of values) {
    if (value === undefined) return undefined;
    sum += value;
  }
  return sum;
}

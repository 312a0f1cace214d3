import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createUserWithToken } from '../auth/users.js';
import { connectDatabase, type Sql } from '../db/connection.js';
import { createPostgresStore } from '../db/store.js';
import { LISTENER_APPLICATION_NAME } from '../pubsub/postgres-pubsub-options.js';
import { ChatdClient } from './chatd-client.js';
import { CHATD_BIN } from './child-process.js';
import type { Cleanups } from './cleanups.js';
import { auditFaultRun, type FaultAudit, readAuditDatabase } from './fault-audit.js';
import {
  describeFault,
  FaultInjector,
  type InjectedFault,
  type PlannedFault,
  planFaults,
} from './fault-injector.js';
import { type FaultLoadReport, runFaultLoad } from './fault-load.js';
import { startLlmMockChild } from './llm-mock-child.js';
import { LLM_FAULT_MODES, type LlmMockStats, type LlmRequestOutcome } from './llm-mock-server.js';
import { ReplicaPool } from './replica-pool.js';
import { type ReplicaProcess, startReplica } from './replica-process.js';
import { openScratchDatabase } from './scratch-database.js';
import { runUntilStopped, ScaleTestStoppedError } from './stoppable-run.js';

/** Options of {@link runFaultScaleTest}; durations in ms. */
export interface FaultScaleTestOptions {
  readonly replicas: number;
  readonly chats: number;
  readonly turns: number;
  /** Users the chats belong to (chat i is user i mod n); default 1: one admin runs every chat. */
  readonly users?: number;
  readonly postgresUrl?: string | undefined;
  readonly llmLatencyMs: number;
  readonly llmChunkDelayMs: number;
  readonly llmResponseTokens: number;
  /** Share of provider requests the mock LLM fails (0..1), split evenly among its four fault modes. */
  readonly llmFaultRate: number;
  /** Seed of the mock's fault sequence. */
  readonly llmFaultSeed: number;
  /** Rounds of the three injected faults (replica kill, PostgreSQL restart, LISTEN termination). */
  readonly faultRounds: number;
  /** The replicas' `--turn-idle-timeout` (a silent provider is cut off after it). */
  readonly turnIdleTimeoutMs: number;
  /** The replicas' `--turn-takeover-after` (a dead owner's turn is taken over after it). */
  readonly turnTakeoverAfterMs: number;
  /** The replicas' `--turn-heartbeat-interval`. */
  readonly turnHeartbeatIntervalMs: number;
  /** The replicas' `--shutdown-grace` (the run's own clean stop at the end). */
  readonly shutdownGraceMs: number;
  /** chatd's bounds, for the provider-call check: retries per attempt and takeovers per turn. */
  readonly providerRetries: number;
  readonly takeoverBound: number;
  /** How long the client waits for one turn (see `runFaultLoad`). */
  readonly turnTimeoutMs: number;
  /** How long the client keeps trying to get a message acknowledged. */
  readonly deliverTimeoutMs: number;
  /** How long a fault may take to recover. */
  readonly recoveryTimeoutMs: number;
  /** After the load, how long chats may take to leave `pending` and `running`. */
  readonly settleTimeoutMs: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (line: string) => void;
}

/** The defaults the CLI uses for every duration and bound of a faults run. */
export const FAULT_RUN_DEFAULTS = Object.freeze({
  llmFaultRate: 0.1,
  llmFaultSeed: 1,
  faultRounds: 2,
  turnIdleTimeoutMs: 5_000,
  turnTakeoverAfterMs: 6_000,
  turnHeartbeatIntervalMs: 1_000,
  shutdownGraceMs: 5_000,
  providerRetries: 3,
  takeoverBound: 3,
  turnTimeoutMs: 180_000,
  deliverTimeoutMs: 120_000,
  recoveryTimeoutMs: 120_000,
});

/** One line of the audit table. */
export interface AuditRow {
  readonly check: string;
  readonly value: string;
  /** What it must be, for the invariants; empty for figures. */
  readonly expected: string;
  /** undefined for figures without a bound. */
  readonly passed: boolean | undefined;
}

/** Everything a faults run did and found. */
export interface FaultScaleTestReport {
  readonly options: Omit<FaultScaleTestOptions, 'onProgress' | 'postgresUrl' | 'signal'>;
  /** Whether PostgreSQL was ours (embedded), and so restarted. */
  readonly embeddedPostgres: boolean;
  readonly schedule: readonly PlannedFault[];
  readonly faults: readonly InjectedFault[];
  /** Provider requests by outcome, as the mock LLM counted them. */
  readonly llmOutcomes: Readonly<Record<LlmRequestOutcome, number>>;
  readonly load: Omit<FaultLoadReport, 'accepted' | 'chatIds'>;
  /** ms from the load's end until no chat was `pending` or `running` (undefined: not within the bound). */
  readonly settleMs: number | undefined;
  readonly audit: FaultAudit;
  readonly rows: readonly AuditRow[];
  /** Every invariant held. */
  readonly passed: boolean;
  /** `chatd server` flags of a faults run this chatd does not know, left out. */
  readonly unsupportedServerFlags: readonly string[];
  readonly durationMs: number;
}

/**
 * The scale test under faults: PostgreSQL, a mock LLM that fails a share of requests, `replicas` chatd
 * servers and the chat load (`runFaultLoad`), while a {@link FaultInjector} kills replicas (each
 * replaced), restarts PostgreSQL and terminates the LISTEN connections on a printed schedule; then the
 * audit (`auditFaultRun`). Everything it started is stopped before it settles, as in `runScaleTest`.
 */
export async function runFaultScaleTest(options: FaultScaleTestOptions): Promise<FaultScaleTestReport> {
  return runUntilStopped(options.signal, (cleanups) => measure(options, cleanups));
}

async function measure(options: FaultScaleTestOptions, cleanups: Cleanups): Promise<FaultScaleTestReport> {
  const runStartedAt = performance.now();
  const say = options.onProgress ?? (() => {});
  const checkStopped = () => {
    if (options.signal?.aborted) throw new ScaleTestStoppedError();
  };
  say('starting PostgreSQL');
  const database = await openScratchDatabase({
    postgresUrl: options.postgresUrl,
    // Replicas come and go: room for the killed ones' connections until PostgreSQL notices.
    maxConnections: 50 + (options.replicas + options.faultRounds) * 40,
  });
  cleanups.push(() => database.close());
  checkStopped();

  say(
    `starting the mock LLM (fails ${formatShare(options.llmFaultRate)} of requests: ${LLM_FAULT_MODES.join(', ')})`,
  );
  const { url: llmUrl } = await startLlmMockChild(options, cleanups, [
    '--fault-rate',
    String(options.llmFaultRate),
    '--fault-seed',
    String(options.llmFaultSeed),
    '--record-last-user-messages',
  ]);
  checkStopped();

  // For seeding only: later statements (the injector's, the audit's) open connections of their own.
  const sql = await connectDatabase(database.url, { maxConnections: 2 });
  cleanups.push(() => sql.end({ timeout: 5 }));
  const store = createPostgresStore(sql);
  const { token } = await createUserWithToken(store, { username: 'scaletest', role: 'admin' });
  const users = options.users ?? 1;
  const tokens = users === 1 ? [token] : [];
  for (let index = 0; users > 1 && index < users; index++) {
    const member = await createUserWithToken(store, { username: `scaletest-${index}`, role: 'member' });
    await store.upsertUserChatPrompt(member.user.id, `You talk to scale test user ${index}.`);
    tokens.push(member.token);
  }

  const { flags, unsupported } = await serverFlags(options);
  if (unsupported.length > 0) {
    say(`this chatd server does not know ${unsupported.join(', ')}: its replicas run without them`);
  }
  say(`starting ${options.replicas} chatd replicas (${flags.join(' ')})`);
  const secretsKey = randomBytes(32).toString('hex');
  let replicaCount = 0;
  /** Replicas that exited on their own (not killed by the injector, not stopped at the end). */
  const unexpectedExits: string[] = [];
  /** Set once the audit is done: the replicas' exits from then on are the run's own stop. */
  let stopping = false;
  const start = async () => {
    const replica = await startReplica(
      {
        index: replicaCount++,
        databaseUrl: database.url,
        secretsKey,
        configCache: true,
        extraArgs: flags,
      },
      cleanups,
    );
    replica.process.child.once('exit', (code, signal) => {
      if (stopping || signal === 'SIGKILL') return;
      const line = `replica ${replica.index} exited on its own (${signal ?? `code ${code}`})`;
      unexpectedExits.push(line);
      say(`${line}; log tail:\n${replica.process.stderr().slice(-3000)}`);
    });
    return replica;
  };
  const replicas: ReplicaProcess[] = [];
  for (let index = 0; index < options.replicas; index++) {
    checkStopped();
    replicas.push(await start());
  }
  checkStopped();
  const admin = new ChatdClient(replicas[0]!.url, token);
  const provider = await admin.request<{ id: string }>('POST', '/api/v1/chat/providers', {
    provider: 'openai-compat',
    display_name: 'Mock LLM (faulty)',
    base_url: llmUrl,
    api_key: 'sk-scaletest',
  });
  const modelConfig = await admin.request<{ id: string }>('POST', '/api/v1/chat/model-configs', {
    provider_id: provider.id,
    model: 'mock-model',
    display_name: 'Mock model',
    context_limit: 128_000,
    is_default: true,
  });

  const totalTurns = options.chats * options.turns;
  const schedule = planFaults(options.faultRounds, totalTurns);
  say('fault schedule:');
  say(
    `- throughout: the mock LLM fails ${formatShare(options.llmFaultRate)} of provider requests, in turn: HTTP 500 before output, a stream cut mid-answer, HTTP 400, a stream that goes silent`,
  );
  for (const planned of schedule) {
    const skipped = planned.kind === 'restart-postgres' && !database.restart;
    say(
      `- fault ${planned.number}, once ${planned.atTurns} of ${totalTurns} turns are finished (and fault ${planned.number - 1 || '-'} has recovered): ${describeFault(planned.kind)}${skipped ? ' [skipped: PostgreSQL is external (--postgres-url)]' : ''}`,
    );
  }

  const pool = new ReplicaPool(replicas.map((replica) => replica.url));
  let loadStartedAt = performance.now();
  const stamp = (line: string) =>
    say(
      `[${new Date().toISOString()} +${((performance.now() - loadStartedAt) / 1000).toFixed(1)} s] ${line}`,
    );
  const injector = new FaultInjector({
    schedule,
    pool,
    replicas,
    startReplica: async () => {
      const replica = await start();
      checkStopped();
      return replica;
    },
    restartPostgres: database.restart,
    terminateListeners: async () => {
      // The listeners are chosen first (MATERIALIZED), then terminated: in one WHERE clause PostgreSQL
      // may call pg_terminate_backend before the other conditions, on every backend (this one too).
      const rows = await withConnection(
        database.url,
        (db) => db<{ pid: number; terminated: boolean }[]>`
          WITH listeners AS MATERIALIZED (
            SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND (application_name = ${LISTENER_APPLICATION_NAME} OR query ILIKE 'LISTEN%')
          )
          SELECT pid, pg_terminate_backend(pid) AS terminated FROM listeners`,
      );
      return rows.filter((row) => row.terminated).length;
    },
    recoveryTimeoutMs: options.recoveryTimeoutMs,
    maxGapMs: Math.min(options.recoveryTimeoutMs, 30_000),
    say: stamp,
    signal: options.signal,
    probeTurn: async () => {
      const client = pool.client(token);
      const chat = await client.request<{ id: string }>('POST', '/api/v1/chats', {
        content: `Recovery probe [${randomBytes(6).toString('hex')}]`,
        model_config_id: modelConfig.id,
      });
      const acceptedAt = performance.now();
      const deadline = acceptedAt + options.turnTimeoutMs;
      while (performance.now() < deadline && !options.signal?.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const detail = await pool
          .client(token)
          .request<{ chat: { status: string } }>('GET', `/api/v1/chats/${chat.id}`)
          .catch(() => undefined);
        if (detail?.chat.status === 'waiting') return [acceptedAt, performance.now()] as const;
        if (detail?.chat.status === 'error') throw new Error('the probe turn failed');
      }
      throw new Error('the probe turn did not end');
    },
  });

  say(`running ${options.chats} chats x ${options.turns} turns under faults`);
  loadStartedAt = performance.now();
  const isTty = process.stderr.isTTY === true;
  const load = await runFaultLoad({
    pool,
    tokens,
    chats: options.chats,
    turns: options.turns,
    modelConfigId: modelConfig.id,
    turnTimeoutMs: options.turnTimeoutMs,
    deliverTimeoutMs: options.deliverTimeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    onAnswered: (message, at) => injector.noteAnswered(message.acceptedAt, at),
    onProgress: ({ finishedTurns }) => {
      injector.onProgress(finishedTurns);
      if (isTty) process.stderr.write(`\r${finishedTurns}/${totalTurns} turns finished `);
    },
  });
  if (isTty) process.stderr.write('\n');
  stamp(
    `load ended: ${load.accepted.length} messages accepted, ${load.answered} turns answered, ${load.errored} ended in error, ${load.timedOut} timed out`,
  );
  const faults = await injector.finish();
  checkStopped();

  // Every turn ends: give the last ones (a takeover, an idle timeout) their bound, then look.
  const settleStartedAt = performance.now();
  let settleMs: number | undefined;
  while (performance.now() - settleStartedAt < options.settleTimeoutMs && !options.signal?.aborted) {
    try {
      const [row] = await withConnection(
        database.url,
        (db) => db<{ count: number }[]>`
          SELECT count(*)::int AS count FROM chats WHERE status IN ('pending', 'running')`,
        1,
      );
      if (row!.count === 0) {
        settleMs = performance.now() - settleStartedAt;
        break;
      }
    } catch {
      // PostgreSQL restarting: look again.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  stamp(settleMs === undefined ? 'chats still pending or running after the bound' : 'every chat settled');
  checkStopped();

  // Read (and then stopped watching) before the audit: the stop after it exits every replica.
  const diedOnTheirOwn = unexpectedExits.slice();
  stopping = true;
  const stats = (await (await fetch(llmUrl.replace(/\/v1$/, '/_mock/stats'))).json()) as LlmMockStats;
  const audit = auditFaultRun({
    database: await withConnection(database.url, readAuditDatabase),
    accepted: load.accepted,
    callsByLastUserMessage: stats.calls_by_last_user_message,
    providerRetries: options.providerRetries,
    takeoverBound: options.takeoverBound,
  });
  if (audit.lost + audit.answeredTwice + audit.unaccounted + audit.chatsPendingOrRunning > 0) {
    for (const replica of replicas)
      say(`replica ${replica.index} log tail:\n${replica.process.stderr().slice(-3000)}`);
  }
  const { accepted: _, chatIds: __, ...loadFigures } = load;
  const { onProgress: ___, postgresUrl: ____, signal: _____, ...reported } = options;
  const rows = auditRows(audit, faults, stats.outcomes, load, settleMs, options);
  rows.push({
    check: 'replicas that died on their own',
    value: diedOnTheirOwn.length === 0 ? '0' : diedOnTheirOwn.join('; '),
    expected: '0',
    passed: diedOnTheirOwn.length === 0,
  });
  return {
    options: reported,
    embeddedPostgres: database.restart !== undefined,
    schedule,
    faults,
    llmOutcomes: stats.outcomes,
    load: loadFigures,
    settleMs,
    audit,
    rows,
    passed: rows.every((row) => row.passed !== false),
    unsupportedServerFlags: unsupported,
    durationMs: performance.now() - runStartedAt,
  };
}

/** The table: every figure the issue asks for, with a pass or fail per invariant. */
function auditRows(
  audit: FaultAudit,
  faults: readonly InjectedFault[],
  llm: Readonly<Record<LlmRequestOutcome, number>>,
  load: FaultLoadReport,
  settleMs: number | undefined,
  options: FaultScaleTestOptions,
): AuditRow[] {
  const injected = faults.filter((fault) => fault.injectedAtMs !== undefined);
  const byKind = (kind: string) => injected.filter((fault) => fault.planned.kind === kind).length;
  // A restart that could not be ours (--postgres-url) is skipped on purpose; any other skip fails.
  const missed = faults.filter(
    (fault) =>
      fault.injectedAtMs === undefined &&
      !(fault.planned.kind === 'restart-postgres' && fault.skipped?.startsWith('PostgreSQL is external')),
  );
  const llmFaults = LLM_FAULT_MODES.map((mode) => `${mode} ${llm[mode]}`).join(', ');
  const recoveries = injected.map((fault) => fault.recoveryMs);
  const unrecovered = recoveries.filter((ms) => ms === undefined).length;
  const longest = Math.max(0, ...recoveries.map((ms) => ms ?? 0));
  const zero = (value: number): AuditRow['passed'] => value === 0;
  return [
    {
      check: 'faults injected',
      value: `replica kills ${byKind('kill-replica')}, PostgreSQL restarts ${byKind('restart-postgres')}, LISTEN terminations ${byKind('terminate-listeners')}; LLM: ${llmFaults} of ${Object.values(llm).reduce((sum, n) => sum + n, 0)} requests`,
      expected: `every scheduled fault (${faults.length})`,
      passed: missed.length === 0,
    },
    { check: 'user messages accepted', value: String(audit.accepted), expected: '', passed: undefined },
    { check: 'answered exactly once', value: String(audit.answeredOnce), expected: '', passed: undefined },
    { check: 'ended visibly in error', value: String(audit.endedInError), expected: '', passed: undefined },
    { check: 'lost', value: String(audit.lost), expected: '0', passed: zero(audit.lost) },
    {
      check: 'answered twice',
      value: String(audit.answeredTwice),
      expected: '0',
      passed: zero(audit.answeredTwice),
    },
    {
      check: 'neither answered nor visibly failed',
      value: String(audit.unaccounted),
      expected: '0',
      passed: zero(audit.unaccounted),
    },
    {
      check: 'chats left pending/running',
      value: `${audit.chatsPendingOrRunning}${settleMs === undefined ? '' : ` (all settled ${(settleMs / 1000).toFixed(1)} s after the load)`}`,
      expected: '0',
      passed: zero(audit.chatsPendingOrRunning),
    },
    {
      check: 'provider calls per user message',
      value: `max ${audit.providerCallsMax}, mean ${audit.providerCallsMean.toFixed(2)}; ${audit.providerCallsOverBound} over the bound`,
      expected: `<= ${1 + options.providerRetries} x (1 + ${options.takeoverBound} takeovers + the client's resumes)`,
      passed: zero(audit.providerCallsOverBound),
    },
    {
      check: 'longest recovery',
      value:
        injected.length === 0
          ? 'n/a'
          : `${(longest / 1000).toFixed(1)} s${unrecovered > 0 ? `; ${unrecovered} faults never recovered` : ''}`,
      expected: `every fault within ${(options.recoveryTimeoutMs / 1000).toFixed(0)} s`,
      passed: unrecovered === 0,
    },
    {
      check: 'turns the client gave up on',
      value: `${load.timedOut} timed out, ${load.chatsGivenUp} chats stopped early`,
      expected: '0',
      passed: zero(load.timedOut + load.chatsGivenUp),
    },
  ];
}

/** The `chatd server` flags of a faults run that this chatd knows, and those it does not. */
async function serverFlags(
  options: FaultScaleTestOptions,
): Promise<{ flags: string[]; unsupported: string[] }> {
  const wanted: Array<[string, string]> = [
    ['--turn-idle-timeout', `${options.turnIdleTimeoutMs}ms`],
    ['--turn-takeover-after', `${options.turnTakeoverAfterMs}ms`],
    ['--turn-heartbeat-interval', `${options.turnHeartbeatIntervalMs}ms`],
    ['--shutdown-grace', `${options.shutdownGraceMs}ms`],
  ];
  const { stdout } = await promisify(execFile)(process.execPath, [CHATD_BIN, 'server', '--help']);
  const flags: string[] = [];
  const unsupported: string[] = [];
  for (const [flag, value] of wanted) {
    if (new RegExp(`${flag}\\b`).test(stdout)) flags.push(flag, value);
    else unsupported.push(flag);
  }
  return { flags, unsupported };
}

/**
 * Runs `run` on a connection of its own, made for it and closed after: a pool would hand out the
 * connections a PostgreSQL restart closed. Tried `attempts` times, 500 ms apart (PostgreSQL may be
 * restarting).
 */
async function withConnection<T>(url: string, run: (db: Sql) => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const db = await connectDatabase(url, { maxConnections: 1, applicationName: 'chatd-scaletest' });
      try {
        return await run(db);
      } finally {
        await db.end({ timeout: 1 }).catch(() => {});
      }
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function formatShare(rate: number): string {
  return `${+(rate * 100).toFixed(2)}%`;
}

/** The schedule as it ran, the audit table, and the load client's figures, as Markdown. */
export function formatFaultScaleTestReport(report: FaultScaleTestReport): string {
  const lines: string[] = [
    `${report.options.chats} chats x ${report.options.turns} turns on ${report.options.replicas} replicas under faults: ${report.passed ? 'every invariant held' : 'AN INVARIANT FAILED'} (${(report.durationMs / 1000).toFixed(1)} s in all, load ${(report.load.durationMs / 1000).toFixed(1)} s)`,
    '',
    '| fault | injected at | what | recovery |',
    '| --- | ---: | --- | ---: |',
  ];
  for (const fault of report.faults) {
    lines.push(
      `| ${fault.planned.number}. ${fault.planned.kind} (at ${fault.planned.atTurns} turns) | ${fault.injectedAtMs === undefined ? 'not injected' : `${(fault.injectedAtMs / 1000).toFixed(1)} s`} | ${fault.skipped ?? fault.detail} | ${fault.recoveryMs === undefined ? 'n/a' : `${(fault.recoveryMs / 1000).toFixed(1)} s`} |`,
    );
  }
  lines.push('', '| check | value | must be | result |', '| --- | --- | --- | --- |');
  for (const row of report.rows) {
    const result = row.passed === undefined ? '' : row.passed ? 'pass' : 'FAIL';
    lines.push(`| ${row.check} | ${row.value} | ${row.expected} | ${result} |`);
  }
  const { load, audit } = report;
  lines.push(
    '',
    `load client: ${load.unacknowledged} requests without a 2xx (sent again with a new nonce); ${audit.unacknowledgedInDatabase} of those messages reached the database; retries ${load.retriesAccepted} accepted, ${load.retriesRefused} refused (409); ${load.streamReconnects} stream reconnects; turn takeovers ${audit.turnTakeovers.total} (max ${audit.turnTakeovers.max} in one chat); ${audit.unmatchedProviderCalls} provider calls matched no user message`,
  );
  if (report.unsupportedServerFlags.length > 0) {
    lines.push(
      `replicas ran without ${report.unsupportedServerFlags.join(', ')} (this chatd server does not know them)`,
    );
  }
  for (const line of audit.samples) lines.push(`- ${line}`);
  for (const line of load.samples.slice(0, 10)) lines.push(`- client: ${line}`);
  return lines.join('\n');
}

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { ChatFollower } from './chat-follower.js';
import { ChatdClient } from './chatd-client.js';
import { formatMs, percentile } from './percentiles.js';

/** Where a chat's run failed. */
export type FailureStage = 'create' | 'stream' | 'send' | 'turn';

/** Options of {@link runChatLoad}. */
export interface ChatLoadOptions {
  /** Base URLs of the replicas; chat i talks to replica i mod n. */
  readonly urls: readonly string[];
  /** API tokens of the users the chats belong to; chat i is user i mod n's. */
  readonly tokens: readonly string[];
  readonly chats: number;
  readonly turns: number;
  /** Model config for the chats; default: the deployment's default. */
  readonly modelConfigId?: string | undefined;
  /** How long one turn may take before it counts as failed; default 600 s (a saturated machine queues turns). */
  readonly turnTimeoutMs?: number;
  /** Called about every 250 ms with the turns completed so far. */
  readonly onProgress?: (progress: {
    completedTurns: number;
    failedChats: number;
    totalTurns: number;
  }) => void;
  /** Called once every chat has been created (the load is now steady). */
  readonly onAllCreated?: () => void;
}

/** Latency figures in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** What one load run measured. */
export interface ChatLoadReport {
  readonly chats: number;
  readonly turnsPerChat: number;
  readonly completedTurns: number;
  /** Chats that failed, by the stage where they failed (a failed chat runs no further turns). */
  readonly failures: Readonly<Record<FailureStage, number>>;
  /** A few failure messages, for diagnosis. */
  readonly failureSamples: readonly string[];
  /** Requests retried because a connection failed before the server got them (not failures). */
  readonly connectionRetries: number;
  /** Requests retried because the server answered 408: it never received them in time (not failures). */
  readonly requestTimeoutRetries: number;
  /**
   * How late this process's event loop ran during the load (p99 and max, in ms): a load generator that
   * lags delays every request it makes, so its figures count for little when this is high.
   */
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly durationMs: number;
  readonly turnsPerSecond: number;
  readonly createLatencyMs: LatencySummary;
  /** From sending a message (or creating the chat) to its first streamed output. */
  readonly timeToFirstOutputMs: LatencySummary;
  /** From sending a message (or creating the chat) to the turn's final status. */
  readonly turnDurationMs: LatencySummary;
}

/**
 * Connections per client (a replica and a user) for requests other than streams. Under a burst (5,000
 * chats created at once, or sends as a wave of turns ends) a client without a limit opens a connection
 * per request; on a saturated machine its event loop then wrote on some of them only after the replica's
 * 10 s headers timeout had run out since the accept, and the replica answered 408. Warm connections
 * avoid that, as a browser's or a proxy's pool does.
 */
const CONNECTIONS_PER_CLIENT = 256;

/**
 * Runs `chats` concurrent chats of `turns` turns each: every chat is created at the same moment (behind a
 * ready barrier), followed on its event stream, and sent a follow-up after each finished turn.
 */
export async function runChatLoad(options: ChatLoadOptions): Promise<ChatLoadReport> {
  const turnTimeoutMs = options.turnTimeoutMs ?? 600_000;
  if (options.urls.length === 0 || options.tokens.length === 0) {
    throw new RangeError('runChatLoad needs at least one URL and one token');
  }
  let connectionRetries = 0;
  let requestTimeoutRetries = 0;
  const clients = new Map<string, ChatdClient>();
  const clientFor = (index: number): ChatdClient => {
    const url = options.urls[index % options.urls.length]!;
    const token = options.tokens[index % options.tokens.length]!;
    const key = `${url} ${token}`;
    let client = clients.get(key);
    if (!client) {
      client = new ChatdClient(url, token, {
        maxSockets: CONNECTIONS_PER_CLIENT,
        onConnectionRetry: () => {
          connectionRetries += 1;
        },
        onRequestTimeoutRetry: () => {
          requestTimeoutRetries += 1;
        },
      });
      clients.set(key, client);
    }
    return client;
  };
  const failures: Record<FailureStage, number> = { create: 0, stream: 0, send: 0, turn: 0 };
  const failureSamples: string[] = [];
  const createLatency: number[] = [];
  const firstOutput: number[] = [];
  const turnDuration: number[] = [];
  let completedTurns = 0;
  let created = 0;
  const totalTurns = options.chats * options.turns;

  let release!: () => void;
  const barrier = new Promise<void>((resolve) => {
    release = resolve;
  });
  const fail = (stage: FailureStage, error: unknown) => {
    failures[stage] += 1;
    if (failureSamples.length < 10)
      failureSamples.push(`${stage}: ${(error as Error)?.message ?? String(error)}`);
  };
  const noteCreated = () => {
    created += 1;
    if (created === options.chats) options.onAllCreated?.();
  };

  const runOne = async (index: number) => {
    const client = clientFor(index);
    await barrier;
    let turnStartedAt = performance.now();
    let chatId: string;
    try {
      chatId = (await client.createChat(`Load chat ${index}, turn 1: say something.`, options.modelConfigId))
        .id;
      createLatency.push(performance.now() - turnStartedAt);
    } catch (error) {
      fail('create', error);
      noteCreated();
      return;
    }
    noteCreated();
    let firstOutputAt: number | undefined;
    let follower: ChatFollower;
    try {
      follower = await ChatFollower.open(client, chatId, (event) => {
        if (firstOutputAt === undefined && (event.event === 'message_part' || isAssistantMessage(event))) {
          firstOutputAt = performance.now();
        }
      });
    } catch (error) {
      fail('stream', error);
      return;
    }
    try {
      for (let turn = 1; turn <= options.turns; turn++) {
        let state: Awaited<ReturnType<ChatFollower['until']>>;
        try {
          state = await follower.until(
            (s) => (s.status === 'waiting' && s.messages.size >= 2 * turn) || s.status === 'error',
            turnTimeoutMs,
          );
        } catch (error) {
          fail('turn', error);
          return;
        }
        if (state.status === 'error') {
          fail('turn', new Error(state.lastError ?? 'the turn ended in error'));
          return;
        }
        const endedAt = performance.now();
        turnDuration.push(endedAt - turnStartedAt);
        if (firstOutputAt !== undefined) firstOutput.push(firstOutputAt - turnStartedAt);
        completedTurns += 1;
        if (turn === options.turns) break;
        firstOutputAt = undefined;
        turnStartedAt = performance.now();
        try {
          await client.sendMessage(chatId, `Load chat ${index}, turn ${turn + 1}: and then?`);
        } catch (error) {
          fail('send', error);
          return;
        }
      }
    } finally {
      follower.close();
    }
  };

  const runs = Array.from({ length: options.chats }, (_, index) => runOne(index));
  const progress = setInterval(
    () => options.onProgress?.({ completedTurns, failedChats: sumFailures(failures), totalTurns }),
    250,
  );
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const startedAt = performance.now();
  release();
  try {
    await Promise.all(runs);
  } finally {
    clearInterval(progress);
    loopDelay.disable();
  }
  const durationMs = performance.now() - startedAt;
  options.onProgress?.({ completedTurns, failedChats: sumFailures(failures), totalTurns });
  return {
    chats: options.chats,
    turnsPerChat: options.turns,
    completedTurns,
    failures,
    failureSamples,
    connectionRetries,
    requestTimeoutRetries,
    // The histogram records nanoseconds.
    eventLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    durationMs,
    turnsPerSecond: completedTurns / (durationMs / 1000),
    createLatencyMs: summarize(createLatency),
    timeToFirstOutputMs: summarize(firstOutput),
    turnDurationMs: summarize(turnDuration),
  };
}

function isAssistantMessage(event: { event: string; data: unknown }): boolean {
  return event.event === 'message' && (event.data as { role?: string }).role === 'assistant';
}

function sumFailures(failures: Record<FailureStage, number>): number {
  return failures.create + failures.stream + failures.send + failures.turn;
}

function summarize(values: number[]): LatencySummary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

/** The report as a Markdown summary. */
export function formatChatLoadReport(report: ChatLoadReport): string {
  const latency = (name: string, s: LatencySummary) =>
    `| ${name} | ${s.count} | ${formatMs(s.p50)} | ${formatMs(s.p95)} | ${formatMs(s.p99)} | ${formatMs(s.max)} |`;
  const failed = sumFailures(report.failures);
  return [
    `${report.chats} chats x ${report.turnsPerChat} turns: ${report.completedTurns} turns completed in ${(report.durationMs / 1000).toFixed(1)} s (${report.turnsPerSecond.toFixed(1)} turns/s); ${failed} chats failed (create ${report.failures.create}, stream ${report.failures.stream}, send ${report.failures.send}, turn ${report.failures.turn}); ${formatRetries(report)}; ${formatLoopDelay(report)}`,
    '',
    '| latency | count | p50 ms | p95 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    latency('create chat', report.createLatencyMs),
    latency('time to first output', report.timeToFirstOutputMs),
    latency('turn duration', report.turnDurationMs),
    ...(report.failureSamples.length > 0
      ? ['', 'failures (first few):', ...report.failureSamples.map((s) => `- ${s}`)]
      : []),
  ].join('\n');
}

/** The requests sent again, by reason: none of them reached the server the first time. */
export function formatRetries(report: ChatLoadReport): string {
  return `requests retried: ${report.connectionRetries} after a connection failure, ${report.requestTimeoutRetries} after a 408`;
}

/** How late the load generator's event loop ran. */
export function formatLoopDelay(report: ChatLoadReport): string {
  const { p99, max } = report.eventLoopDelayMs;
  return `load client event loop delay p99 ${formatMs(p99)} ms, max ${formatMs(max)} ms`;
}

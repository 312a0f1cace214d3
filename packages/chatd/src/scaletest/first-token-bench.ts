/**
 * `chatd scaletest first-token`: how long chatd adds between `POST /chats/{id}/messages` and the first
 * `message_part` on the chat's stream, idle, on one replica, against a mock LLM whose first token comes
 * after `latencyMs` and the rest `wordDelayMs` apart. Both part batchers run in the same process, one after
 * the other (trailing windows: the first part waits a whole window; leading edge: it leaves at once), so
 * their figures compare on a noisy machine. Notifications per turn are counted at the source (`pg_notify`
 * calls on the chat-events channel), since fewer parts must not mean more of them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createUserWithToken } from '../auth/users.js';
import { CHAT_EVENTS_CHANNEL } from '../chat/chat-events.js';
import { type ChatdServer, startChatdServer } from '../cli/chatd-server.js';
import { NOTIFICATIONS_SENT_METRIC } from '../pubsub/pubsub-metrics.js';
import { ChatdClient, type StreamEvent } from './chatd-client.js';
import { startLlmMockServer } from './llm-mock-server.js';
import { formatMs, percentile } from './percentiles.js';
import { openScratchDatabase } from './scratch-database.js';

/** Options of {@link runFirstTokenBench}; durations in ms. */
export interface FirstTokenBenchOptions {
  /** Measured turns per batcher. */
  readonly turns: number;
  /** The mock's time to its first token. */
  readonly latencyMs: number;
  /** Words of each answer. */
  readonly words: number;
  /** Pause between the mock's words. */
  readonly wordDelayMs: number;
  readonly postgresUrl?: string | undefined;
}

export const FIRST_TOKEN_BENCH_DEFAULTS = Object.freeze({
  turns: 40,
  latencyMs: 50,
  words: 16,
  wordDelayMs: 5,
});

/** One batcher's figures. */
export interface FirstTokenRun {
  readonly batcher: 'trailing windows (before)' | 'leading edge';
  /** From the POST to the first `message_part`, per turn. */
  readonly firstPartMs: readonly number[];
  /** From the POST to the assistant's `message`, per turn. */
  readonly answerMs: readonly number[];
  /** `message_part` events per turn (mean). */
  readonly partsPerTurn: number;
  /** Chat-event notifications sent per turn (mean). */
  readonly notificationsPerTurn: number;
}

export interface FirstTokenBenchReport {
  readonly options: FirstTokenBenchOptions;
  readonly runs: readonly FirstTokenRun[];
}

/** Runs both batchers on a scratch database, one in-process chatd at a time, the mock LLM in-process. */
export async function runFirstTokenBench(options: FirstTokenBenchOptions): Promise<FirstTokenBenchReport> {
  const database = await openScratchDatabase({ postgresUrl: options.postgresUrl });
  const llm = await startLlmMockServer({
    port: 0,
    latencyMs: options.latencyMs,
    chunkDelayMs: options.wordDelayMs,
    responseTokens: options.words,
  });
  try {
    const runs: FirstTokenRun[] = [];
    // Both runs are replicas of one database: one secrets key.
    const secretsKey = randomBytes(32);
    for (const leadingEdge of [false, true]) {
      runs.push(
        await runOne({ postgresUrl: database.url, llmUrl: llm.url, secretsKey }, options, leadingEdge),
      );
    }
    return { options, runs };
  } finally {
    await llm.close();
    await database.close();
  }
}

async function runOne(
  { postgresUrl, llmUrl, secretsKey }: { postgresUrl: string; llmUrl: string; secretsKey: Buffer },
  options: FirstTokenBenchOptions,
  leadingEdge: boolean,
): Promise<FirstTokenRun> {
  const cacheDir = await mkdtemp(path.join(tmpdir(), 'chatd-first-token-'));
  const server = await startChatdServer({
    httpAddress: { host: '127.0.0.1', port: 0 },
    postgresUrl,
    cacheDir,
    logger: pino({ level: 'silent' }),
    secretsKey,
    api: { newChatsPerMinute: 0, messagesPerMinute: 0 },
    worker: { partLeadingEdge: leadingEdge },
  });
  const stop = new AbortController();
  try {
    const token = server.firstAdmin?.token ?? (await issueBenchToken(server));
    const client = new ChatdClient(server.url, token);
    await ensureModel(client, llmUrl);
    const chat = await client.createChat('Warm up: say something.');
    const stream = new EventLog(client.stream(chat.id, { signal: stop.signal }));
    await stream.next((event) => isAssistantMessage(event), 30_000);
    // The title request of the first answer runs after it: let it pass before measuring.
    await stream.next((event) => event.event === 'title', 30_000).catch(() => undefined);

    const notifications = () => notificationsSent(server.registry);
    const before = await notifications();
    const firstPartMs: number[] = [];
    const answerMs: number[] = [];
    let parts = 0;
    for (let turn = 1; turn <= options.turns; turn++) {
      const mark = stream.mark();
      const sentAt = performance.now();
      await client.sendMessage(chat.id, `Question ${turn}?`);
      const part = await stream.next((event) => event.event === 'message_part', 30_000, mark);
      const answer = await stream.next((event) => isAssistantMessage(event), 30_000, mark);
      await stream.next((event) => event.event === 'status' && statusOf(event) === 'waiting', 30_000, mark);
      firstPartMs.push(part.at - sentAt);
      answerMs.push(answer.at - sentAt);
      parts += stream.since(mark).filter((event) => event.event.event === 'message_part').length;
    }
    const notificationsPerTurn = ((await notifications()) - before) / options.turns;
    return {
      batcher: leadingEdge ? 'leading edge' : 'trailing windows (before)',
      firstPartMs,
      answerMs,
      partsPerTurn: parts / options.turns,
      notificationsPerTurn,
    };
  } finally {
    stop.abort();
    await server.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

/** The second run's database already has its first admin: another admin, made in the store. */
async function issueBenchToken(server: ChatdServer): Promise<string> {
  const created = await createUserWithToken(server.store, {
    username: `bench-${randomBytes(4).toString('hex')}`,
    role: 'admin',
  });
  return created.token;
}

async function ensureModel(client: ChatdClient, llmUrl: string): Promise<void> {
  const existing = await client.request<{ model_configs: unknown[] }>('GET', '/api/v1/chat/model-configs');
  if (existing.model_configs.length > 0) return;
  const provider = await client.request<{ id: string }>('POST', '/api/v1/chat/providers', {
    provider: 'openai-compat',
    display_name: 'Mock LLM',
    base_url: llmUrl,
  });
  await client.request('POST', '/api/v1/chat/model-configs', {
    provider_id: provider.id,
    model: 'mock-model',
    display_name: 'Mock',
    context_limit: 8192,
    is_default: true,
  });
}

async function notificationsSent(registry: ChatdServer['registry']): Promise<number> {
  const metric = await registry.getSingleMetric(NOTIFICATIONS_SENT_METRIC)?.get();
  return metric?.values.find((value) => value.labels.channel === CHAT_EVENTS_CHANNEL)?.value ?? 0;
}

function isAssistantMessage(event: StreamEvent): boolean {
  return event.event === 'message' && (event.data as { role?: string }).role === 'assistant';
}

function statusOf(event: StreamEvent): string | undefined {
  return (event.data as { status?: string }).status;
}

/** A stream's events with their arrival times (performance.now()), and waits for the next matching one. */
class EventLog {
  readonly #events: Array<{ at: number; event: StreamEvent }> = [];
  #wake: (() => void) | undefined;
  #failure: unknown;

  constructor(events: AsyncIterable<StreamEvent>) {
    void (async () => {
      try {
        for await (const event of events) {
          this.#events.push({ at: performance.now(), event });
          this.#wake?.();
        }
      } catch (error) {
        this.#failure = error;
        this.#wake?.();
      }
    })();
  }

  mark(): number {
    return this.#events.length;
  }

  since(mark: number): ReadonlyArray<{ at: number; event: StreamEvent }> {
    return this.#events.slice(mark);
  }

  async next(
    matches: (event: StreamEvent) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<{ at: number; event: StreamEvent }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#events.slice(from).find((entry) => matches(entry.event));
      if (found) return found;
      if (this.#failure !== undefined) throw this.#failure;
      if (Date.now() > deadline) throw new Error('the awaited stream event did not come');
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }
}

/** The report as Markdown tables. */
export function formatFirstTokenBenchReport(report: FirstTokenBenchReport): string {
  const { options } = report;
  const lines = [
    `${options.turns} turns per batcher, idle, one replica; mock LLM: first token after ${options.latencyMs} ms, ${options.words} words ${options.wordDelayMs} ms apart`,
    '',
    '| part batcher | first part p50 | p90 | added by chatd p50 | answer p50 | parts/turn | notifications/turn |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const run of report.runs) {
    const p50 = percentile(run.firstPartMs, 50);
    lines.push(
      `| ${run.batcher} | ${formatMs(p50)} | ${formatMs(percentile(run.firstPartMs, 90))} | ${formatMs(p50 - options.latencyMs)} | ${formatMs(percentile(run.answerMs, 50))} | ${run.partsPerTurn.toFixed(2)} | ${run.notificationsPerTurn.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

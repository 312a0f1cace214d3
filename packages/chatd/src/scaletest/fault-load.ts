import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ChatdApiError, type ChatJson, type MessageJson } from './chatd-client.js';
import { FailoverFollower } from './failover-follower.js';
import type { ReplicaPool } from './replica-pool.js';

/** How long one request may take before the client gives up on it (and counts it unacknowledged). */
const REQUEST_TIMEOUT_MS = 30_000;
/** How often a waiting chat is looked at when its stream has said nothing. */
const FALLBACK_POLL_MS = 5_000;

/** How a turn ended, as the load client saw it. */
export type ClientTurnOutcome = 'answered' | 'error' | 'timeout';

/** A user message chatd acknowledged with a 2xx: the load client's record, which the audit checks. */
export interface AcceptedMessage {
  readonly chatId: string;
  /** Unique across the run (it carries a nonce). */
  readonly content: string;
  readonly chatIndex: number;
  readonly turn: number;
  /** performance.now() when the 2xx arrived. */
  readonly acceptedAt: number;
  /**
   * `POST …/retry` requests sent while this message was the chat's failed one, acknowledged or not
   * (an unacknowledged one may have resumed the chat all the same).
   */
  resumes: number;
  /** What each wait for its turn ended with (a retry waits again). */
  readonly outcomes: ClientTurnOutcome[];
}

/** Options of {@link runFaultLoad}. */
export interface FaultLoadOptions {
  /** The live replicas; the fault injector changes it during the load. */
  readonly pool: ReplicaPool;
  /** API tokens of the users the chats belong to; chat i is user i mod n's. */
  readonly tokens: readonly string[];
  readonly chats: number;
  readonly turns: number;
  readonly modelConfigId?: string | undefined;
  /** How long the client waits for one turn to end after its message was accepted. */
  readonly turnTimeoutMs: number;
  /** How long the client keeps trying to get a message (or a retry) acknowledged. */
  readonly deliverTimeoutMs: number;
  /** `POST …/retry` requests per failed message at most; default 2. */
  readonly maxResumesPerMessage?: number;
  /** Called when a turn ends answered (for recovery times). */
  readonly onAnswered?: (message: AcceptedMessage, at: number) => void;
  /** Called about every 250 ms. */
  readonly onProgress?: (progress: { finishedTurns: number; totalTurns: number }) => void;
  readonly signal?: AbortSignal;
}

/** What the load client did and saw. */
export interface FaultLoadReport {
  /** Every acknowledged user message, in order of acknowledgement. */
  readonly accepted: readonly AcceptedMessage[];
  /** Chats the client created (acknowledged). */
  readonly chatIds: readonly string[];
  /** Requests (creates, messages, retries) that got no 2xx and were sent again. */
  readonly unacknowledged: number;
  /** Retry requests acknowledged with 202, and those answered 409 (the chat was no longer in error). */
  readonly retriesAccepted: number;
  readonly retriesRefused: number;
  /** Turn waits by outcome. */
  readonly answered: number;
  readonly errored: number;
  readonly timedOut: number;
  /** Chats the client stopped early (a message it could not get acknowledged, a turn that timed out). */
  readonly chatsGivenUp: number;
  /** Turns the client finished (moved past, whatever the outcome); chats x turns when none gave up. */
  readonly finishedTurns: number;
  readonly streamReconnects: number;
  readonly samples: readonly string[];
  readonly durationMs: number;
}

/**
 * The chat load under faults: `chats` chats of `turns` turns, every message with unique content. A
 * request that gets no 2xx (refused, reset, 5xx, timed out) is sent again to another live replica with a
 * new nonce: only acknowledged messages count as accepted, since an unacknowledged one may or may not
 * have been committed. A turn that ends in `error` is resumed: alternately by the chat's next message and
 * by `POST …/retry` (the last turn by retry), each message at most `maxResumesPerMessage` times. Streams
 * fail over between replicas; every wait is bounded.
 */
export async function runFaultLoad(options: FaultLoadOptions): Promise<FaultLoadReport> {
  const maxResumes = options.maxResumesPerMessage ?? 2;
  const accepted: AcceptedMessage[] = [];
  const chatIds: string[] = [];
  const samples: string[] = [];
  const totals = {
    unacknowledged: 0,
    retriesAccepted: 0,
    retriesRefused: 0,
    answered: 0,
    errored: 0,
    timedOut: 0,
    chatsGivenUp: 0,
    finishedTurns: 0,
    streamReconnects: 0,
  };
  const sample = (line: string) => {
    if (samples.length < 20) samples.push(line);
  };
  const aborted = () => options.signal?.aborted === true;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * Sends `POST path` until a 2xx, each attempt with new content (`label` and a nonce) to a live replica,
   * the one that just failed last; undefined when it gave up (a 4xx that will not change, or the
   * deadline).
   */
  const deliver = async <T>(
    token: string,
    path: string,
    label: string,
    body: (content: string) => unknown,
  ): Promise<{ response: T; content: string; at: number } | undefined> => {
    const startedAt = performance.now();
    let avoid: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const content = `${label} [${randomBytes(6).toString('hex')}]`;
      let url: string | undefined;
      try {
        const client = options.pool.client(token, avoid);
        url = client.baseUrl;
        const response = await client.request<T>(
          'POST',
          path,
          body(content),
          AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        );
        return { response, content, at: performance.now() };
      } catch (error) {
        totals.unacknowledged += 1;
        avoid = url;
        if (error instanceof ChatdApiError && !retryableStatus(error.status)) {
          sample(`${label}: gave up: ${error.message}`);
          return undefined;
        }
        if (performance.now() - startedAt > options.deliverTimeoutMs || aborted()) {
          sample(`${label}: no 2xx within ${options.deliverTimeoutMs} ms: ${(error as Error).message}`);
          return undefined;
        }
        await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  };

  /** `POST …/retry` until an answer: resumed (202), not in error (409), unsupported (404), or gave up. */
  const retry = async (
    token: string,
    record: AcceptedMessage,
  ): Promise<'resumed' | 'not-in-error' | 'unsupported' | 'gave-up'> => {
    const startedAt = performance.now();
    let avoid: string | undefined;
    for (let attempt = 0; ; attempt++) {
      record.resumes += 1;
      let url: string | undefined;
      try {
        const client = options.pool.client(token, avoid);
        url = client.baseUrl;
        await client.request(
          'POST',
          `/api/v1/chats/${record.chatId}/retry`,
          undefined,
          AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        );
        totals.retriesAccepted += 1;
        return 'resumed';
      } catch (error) {
        if (error instanceof ChatdApiError && error.status === 409) {
          totals.retriesRefused += 1;
          return 'not-in-error';
        }
        if (error instanceof ChatdApiError && error.status === 404) return 'unsupported';
        totals.unacknowledged += 1;
        avoid = url;
        if (
          (error instanceof ChatdApiError && !retryableStatus(error.status)) ||
          performance.now() - startedAt > options.deliverTimeoutMs ||
          aborted()
        ) {
          sample(`retry of chat ${record.chatIndex}: gave up: ${(error as Error).message}`);
          return 'gave-up';
        }
        await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  };

  /**
   * Waits until the chat's turn for `record` has ended, as the chat itself (GET) shows it: `error`, or
   * `waiting` with the message among the chat's messages and nothing queued. `since` is the follower's
   * `seq` from before the message (or retry) was sent.
   */
  const waitForTurn = async (
    token: string,
    follower: FailoverFollower,
    record: AcceptedMessage,
    since: number,
  ): Promise<ClientTurnOutcome> => {
    const deadline = performance.now() + options.turnTimeoutMs;
    let seq = since;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || aborted()) return 'timeout';
      await follower.changedSince(seq, Math.min(remaining, FALLBACK_POLL_MS * (0.75 + Math.random() / 2)));
      seq = follower.seq;
      try {
        const detail = await options.pool
          .client(token)
          .request<{ chat: ChatJson; messages: MessageJson[]; queued_messages: unknown[] }>(
            'GET',
            `/api/v1/chats/${record.chatId}`,
            undefined,
            AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          );
        if (detail.chat.status === 'error') return 'error';
        if (
          detail.chat.status === 'waiting' &&
          detail.queued_messages.length === 0 &&
          detail.messages.some((message) => message.role === 'user' && message.content === record.content)
        ) {
          return 'answered';
        }
      } catch {
        // A replica going away or PostgreSQL restarting: look again at the next wake-up.
      }
    }
  };

  const runChat = async (index: number) => {
    const token = options.tokens[index % options.tokens.length]!;
    const label = (turn: number) =>
      `Fault chat ${index}, turn ${turn}: ${turn === 1 ? 'hello' : 'and then?'}`;
    const record = (chatId: string, turn: number, content: string, at: number): AcceptedMessage => {
      const message: AcceptedMessage = {
        chatId,
        content,
        chatIndex: index,
        turn,
        acceptedAt: at,
        resumes: 0,
        outcomes: [],
      };
      accepted.push(message);
      return message;
    };
    const created = await deliver<ChatJson>(token, '/api/v1/chats', label(1), (content) => ({
      content,
      ...(options.modelConfigId ? { model_config_id: options.modelConfigId } : {}),
    }));
    if (!created) {
      totals.chatsGivenUp += 1;
      totals.finishedTurns += options.turns;
      return;
    }
    const chatId = created.response.id;
    chatIds.push(chatId);
    const follower = new FailoverFollower(options.pool, token, chatId);
    let current = record(chatId, 1, created.content, created.at);
    // The follower connected after the chat was created: its first status counts as a look.
    let since = -1;
    let turn = 1;
    let resumeByRetry = false;
    try {
      for (;;) {
        const outcome = await waitForTurn(token, follower, current, since);
        current.outcomes.push(outcome);
        if (outcome === 'timeout') {
          totals.timedOut += 1;
          sample(`chat ${index} turn ${turn}: no end within ${options.turnTimeoutMs} ms`);
          totals.chatsGivenUp += 1;
          totals.finishedTurns += options.turns - turn + 1;
          return;
        }
        if (outcome === 'answered') {
          totals.answered += 1;
          options.onAnswered?.(current, performance.now());
        } else {
          totals.errored += 1;
          if (current.resumes < maxResumes && (resumeByRetry || turn === options.turns)) {
            resumeByRetry = false;
            since = follower.seq;
            const resumed = await retry(token, current);
            if (resumed === 'resumed' || resumed === 'not-in-error') continue;
          }
          resumeByRetry = true;
        }
        totals.finishedTurns += 1;
        if (turn === options.turns) return;
        turn += 1;
        since = follower.seq;
        const sent = await deliver<unknown>(
          token,
          `/api/v1/chats/${chatId}/messages`,
          label(turn),
          (content) => ({
            content,
          }),
        );
        if (!sent) {
          totals.chatsGivenUp += 1;
          totals.finishedTurns += options.turns - turn + 1;
          return;
        }
        current = record(chatId, turn, sent.content, sent.at);
      }
    } finally {
      follower.close();
      totals.streamReconnects += follower.reconnects;
    }
  };

  const totalTurns = options.chats * options.turns;
  const progress = setInterval(
    () => options.onProgress?.({ finishedTurns: totals.finishedTurns, totalTurns }),
    250,
  );
  const startedAt = performance.now();
  try {
    await Promise.all(Array.from({ length: options.chats }, (_, index) => runChat(index)));
  } finally {
    clearInterval(progress);
  }
  options.onProgress?.({ finishedTurns: totals.finishedTurns, totalTurns });
  return { accepted, chatIds, samples, durationMs: performance.now() - startedAt, ...totals };
}

/** Statuses worth sending again: the server (or the replica) may answer differently in a moment. */
function retryableStatus(status: number): boolean {
  // 0: the request failed on the network (a replica killed mid-request): retried like a 503.
  return status === 0 || status >= 500 || status === 408 || status === 409 || status === 429;
}

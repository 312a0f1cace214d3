import { performance } from 'node:perf_hooks';
import type { SharedV3Warning } from '@ai-sdk/provider';
import type { Logger } from 'pino';
import type { ChatConfigCache } from '../config/chat-config-cache.js';
import type { ChatMessageRow, ChatRow, JsonObject } from '../db/rows.js';
import { sqlStateOf } from '../db/sqlstate.js';
import type { Store } from '../db/store.js';
import { ProviderError, runChatTurn, TurnAbortedError, type TurnOptions } from '../llm/index.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { type ChatEvent, type ChatEventHub, toStreamedMessage } from './chat-events.js';
import type { ChatMetrics, TurnOutcome } from './chat-metrics.js';
import { resolveChatModel } from './model-resolution.js';
import { PartBatcher } from './part-batcher.js';
import { assembleSystemPrompt } from './prompt.js';
import type { TurnInterrupts } from './turn-interrupts.js';

/** The channel the database notifies when a chat becomes pending (migration 0003). */
export const CHAT_WORK_CHANNEL = 'chat:work';

/** Options of a {@link ChatWorker}; durations in ms. */
export interface ChatWorkerOptions {
  /** Turns this replica runs at once. */
  readonly maxConcurrentTurns: number;
  /** Pending chats claimed per acquire statement. */
  readonly acquireBatchSize: number;
  /** How often the worker refreshes the heartbeat of the chats it runs. */
  readonly heartbeatIntervalMs: number;
  /** A running chat whose heartbeat is older than this goes back to pending (its worker is gone). */
  readonly staleAfterMs: number;
  /** Looks for pending chats this often even without a notification (a safety net). */
  readonly pollIntervalMs: number;
  /** Streamed text is published in parts at most this often… */
  readonly partIntervalMs: number;
  /** …or when this many characters have gathered. */
  readonly partMaxChars: number;
  /** Retry policy of provider calls. */
  readonly turn: TurnOptions;
}

/** Distinct provider warnings remembered before the set starts over. */
const MAX_WARNINGS_REMEMBERED = 1_024;

export const DEFAULT_CHAT_WORKER_OPTIONS: ChatWorkerOptions = Object.freeze({
  maxConcurrentTurns: 2_000,
  acquireBatchSize: 100,
  heartbeatIntervalMs: 5_000,
  staleAfterMs: 30_000,
  pollIntervalMs: 5_000,
  partIntervalMs: 100,
  partMaxChars: 2_000,
  turn: {},
});

/** What a worker needs. */
export interface ChatWorkerDependencies {
  readonly workerId: string;
  readonly store: Store;
  readonly configCache: ChatConfigCache;
  readonly events: ChatEventHub;
  readonly interrupts: TurnInterrupts;
  readonly pubsub: Pubsub;
  readonly secretBox: SecretBox;
  readonly metrics: ChatMetrics;
  readonly logger: Logger;
}

/**
 * Runs chat turns on this replica: claims pending chats (any replica may claim any chat; SKIP LOCKED keeps
 * them from claiming one twice), heartbeats the ones it runs, releases chats whose worker stopped
 * heartbeating, and commits each answer with the chat's next status in one statement.
 *
 * Exactly once: a turn's answer is written only by the worker that still owns the chat
 * (`completeChatTurn` checks `worker_id`). If a worker is presumed dead (stale heartbeat) and the chat is
 * released and claimed again, the old worker's late commit finds it no longer owns the chat and writes
 * nothing.
 */
export class ChatWorker {
  readonly #deps: ChatWorkerDependencies;
  /** Provider warnings already logged, by model config (each is logged once, not on every turn). */
  readonly #warned = new Set<string>();
  readonly #options: ChatWorkerOptions;
  readonly #running = new Map<string, Promise<void>>();
  /** Aborts every running turn when the replica stops. */
  readonly #shutdown = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => Promise<void>) | undefined;
  #removeResetListener: (() => void) | undefined;
  /** The acquire loop running now, if any. */
  #acquiring: Promise<void> | undefined;
  #acquireAgain = false;
  #stopped = false;

  constructor(deps: ChatWorkerDependencies, options: Partial<ChatWorkerOptions> = {}) {
    this.#deps = deps;
    this.#options = Object.freeze({ ...DEFAULT_CHAT_WORKER_OPTIONS, ...options });
  }

  /** Turns running now. */
  get runningTurns(): number {
    return this.#running.size;
  }

  /** Starts listening for work, the timers, and a first look for pending chats. */
  async start(): Promise<void> {
    const { pubsub } = this.#deps;
    this.#unsubscribe = await pubsub.subscribe(CHAT_WORK_CHANNEL, () => this.wake());
    // Notifications may have been missed while the listener was down: look again.
    this.#removeResetListener = pubsub.onReset(() => this.wake());
    this.#every(this.#options.pollIntervalMs, () => this.wake());
    this.#every(this.#options.heartbeatIntervalMs, () => this.#heartbeat());
    this.#every(Math.max(100, Math.floor(this.#options.staleAfterMs / 2)), () => this.#releaseStale());
    this.wake();
  }

  /**
   * Stops claiming chats, aborts the running turns and gives their chats back to `pending` so that another
   * replica finishes them, then waits for the turns to wind down.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#removeResetListener?.();
    await this.#unsubscribe?.().catch(() => {});
    // An acquire already sent may still claim chats: let it finish, so they are released below too.
    await this.#acquiring;
    this.#shutdown.abort(new Error('replica shutting down'));
    await Promise.allSettled(this.#running.values());
    try {
      const released = await this.#deps.store.releaseWorkerChats(this.#deps.workerId);
      if (released.length > 0) this.#deps.logger.info({ chats: released.length }, 'released running chats');
    } catch (error) {
      this.#deps.logger.warn(
        { err: error },
        'could not release running chats; they go back to pending when stale',
      );
    }
  }

  /** Looks for pending chats soon (coalesced: one acquire loop runs at a time). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#acquiring) {
      this.#acquireAgain = true;
      return;
    }
    this.#acquiring = this.#acquireLoop().finally(() => {
      this.#acquiring = undefined;
    });
  }

  async #acquireLoop(): Promise<void> {
    try {
      do {
        this.#acquireAgain = false;
        while (!this.#stopped) {
          const free = this.#options.maxConcurrentTurns - this.#running.size;
          if (free <= 0) break;
          const limit = Math.min(free, this.#options.acquireBatchSize);
          const chats = await this.#deps.store.acquirePendingChats(this.#deps.workerId, limit);
          // Claimed while stopping: stop() releases them with the others.
          if (this.#stopped) break;
          for (const chat of chats) this.#startTurn(chat);
          if (chats.length < limit) break;
        }
      } while (this.#acquireAgain && !this.#stopped);
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'could not acquire pending chats; retrying on the next wake-up');
    }
  }

  #startTurn(chat: ChatRow): void {
    // If we are stopping, the chat is released with the others in stop().
    const turn = this.#runTurn(chat)
      .catch((error: unknown) =>
        this.#deps.logger.error({ err: error, chatId: chat.id }, 'turn failed unexpectedly'),
      )
      .finally(() => {
        // The same chat may have been claimed again meanwhile (a stale release): remove only this turn.
        if (this.#running.get(chat.id) === turn) this.#running.delete(chat.id);
        // Capacity freed: there may be chats we left pending.
        if (this.#running.size === this.#options.maxConcurrentTurns - 1) this.wake();
      });
    this.#running.set(chat.id, turn);
  }

  async #runTurn(chat: ChatRow): Promise<void> {
    const { store, configCache, events, interrupts, secretBox, metrics, logger } = this.#deps;
    // Set by acquirePendingChats; the turn writes only while the chat still carries this claim.
    const claimId = chat.claimId!;
    const startedAt = performance.now();
    // The turn is known by its running status's version: an interrupt for it may arrive before this line.
    const interrupt = interrupts.register(chat.id, chat.statusVersion);
    const signal = AbortSignal.any([interrupt.signal, this.#shutdown.signal]);
    const parts = new PartBatcher((text) => void events.publish(chat.id, [{ type: 'message_part', text }]), {
      intervalMs: this.#options.partIntervalMs,
      maxChars: this.#options.partMaxChars,
    });
    let outcome: TurnOutcome = 'completed';
    let timeToFirstTokenMs: number | null = null;
    try {
      void events.publish(chat.id, [{ type: 'status', status: 'running', version: chat.statusVersion }]);
      let assistant: { content: string; inputTokens: number | null; outputTokens: number | null } | null =
        null;
      let lastError: string | null = null;
      let modelConfigId: string | null = null;
      try {
        // The history first: it may promote a queued message, which must not run on after this turn
        // has ended because resolving the model failed.
        const history = await this.#historyToAnswer(chat.id, claimId);
        const [model, systemPrompt, userPrompt] = await Promise.all([
          resolveChatModel(configCache, chat),
          configCache.getSystemPrompt(),
          configCache.getUserPrompt(chat.ownerId),
        ]);
        modelConfigId = model.config.id;
        const { provider } = model;
        const result = await runChatTurn(
          {
            provider: {
              kind: provider.provider,
              apiKey: provider.apiKeyEncrypted ? secretBox.decrypt(provider.apiKeyEncrypted) : null,
              baseUrl: provider.baseUrl,
            },
            model: model.config.model,
            options: model.config.options as JsonObject,
            system: assembleSystemPrompt(systemPrompt, userPrompt),
            messages: history.map((message) => ({ role: message.role, content: message.content })),
            signal,
            onTextDelta: (delta) => parts.push(delta),
            onWarning: (warning) => this.#warnOnce(model.config.id, model.config.model, warning),
          },
          this.#options.turn,
        );
        timeToFirstTokenMs = result.timeToFirstTokenMs;
        assistant = { content: result.text, ...result.usage };
      } catch (error) {
        if (this.#shutdown.signal.aborted) {
          // Stopping: leave the chat running; stop() gives it back to pending for another replica.
          parts.discard();
          outcome = 'released';
          return;
        }
        if (error instanceof NothingToAnswerError) {
          // Nothing asked since the last answer (e.g. an interrupt raced a queued promotion): just end.
          outcome = 'completed';
        } else if (error instanceof TurnAbortedError) {
          outcome = 'interrupted';
          // Keep what was said before the interrupt.
          if (error.partialText !== '')
            assistant = { content: error.partialText, inputTokens: null, outputTokens: null };
        } else {
          outcome = 'error';
          lastError = describeTurnFailure(error);
          if (!(error instanceof ProviderError)) logger.error({ err: error, chatId: chat.id }, 'turn failed');
        }
      }
      parts.flush();
      const completion = await withRetries(() =>
        store.completeChatTurn({
          chatId: chat.id,
          claimId,
          assistant: assistant && { ...assistant, modelConfigId },
          lastError,
        }),
      );
      if (!completion) {
        outcome = 'lost';
        logger.warn({ chatId: chat.id }, 'chat was taken over by another worker; this turn is discarded');
        return;
      }
      const finished: ChatEvent[] = [];
      if (completion.message)
        finished.push({ type: 'message', message: toStreamedMessage(completion.message) });
      if (lastError !== null) finished.push({ type: 'error', message: lastError });
      finished.push({
        type: 'status',
        status: completion.status,
        version: completion.statusVersion,
        last_error: lastError,
      });
      await events.publish(chat.id, finished);
    } finally {
      parts.discard();
      interrupt.release();
      metrics.turnEnded(outcome, performance.now() - startedAt, timeToFirstTokenMs);
    }
  }

  /** Logs a provider warning about a model config the first time it is seen (bounded memory). */
  #warnOnce(modelConfigId: string, model: string, warning: SharedV3Warning): void {
    const key = `${modelConfigId}\u0000${JSON.stringify(warning)}`;
    if (this.#warned.has(key)) return;
    if (this.#warned.size >= MAX_WARNINGS_REMEMBERED) this.#warned.clear();
    this.#warned.add(key);
    this.#deps.logger.warn({ modelConfigId, model, warning }, 'the provider warned about this model config');
  }

  /**
   * The history this turn answers. A chat becomes pending with its question as the last message, except
   * when a turn ended with messages queued: then the oldest queued message is promoted into the history
   * here, at the start of the next turn. Promoting at turn start (not at turn end) keeps the end of a turn
   * one statement, and is safe after a crash: a chat whose history ends with an answer is always
   * promoted before it is answered again.
   */
  async #historyToAnswer(chatId: string, claimId: string): Promise<ChatMessageRow[]> {
    const { store, events } = this.#deps;
    const history = await store.listChatMessages(chatId);
    if (history.at(-1)?.role === 'user') return history;
    const promoted = await store.promoteNextQueuedMessage(chatId, claimId);
    if (!promoted) throw new NothingToAnswerError();
    void events.publish(chatId, [{ type: 'message', message: toStreamedMessage(promoted) }]);
    return [...history, promoted];
  }

  async #heartbeat(): Promise<void> {
    if (this.#running.size === 0) return;
    try {
      await this.#deps.store.heartbeatRunningChats(this.#deps.workerId);
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'chat heartbeat failed');
    }
  }

  async #releaseStale(): Promise<void> {
    try {
      const released = await this.#deps.store.releaseStaleRunningChats(this.#options.staleAfterMs);
      if (released.length > 0)
        this.#deps.logger.warn({ chats: released }, 'released chats of a worker that stopped heartbeating');
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'could not release stale chats');
    }
  }

  #every(ms: number, task: () => unknown): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }
}

/**
 * Runs `write` up to 3 times, 200 ms and 1 s apart, while it fails with a connection-level error: the
 * answer of a finished turn is worth a short wait for the database. (The claim makes a retry of an
 * ending that did commit harmless: it writes nothing the second time.)
 */
async function withRetries<T>(write: () => Promise<T>): Promise<T> {
  for (const delayMs of [200, 1_000]) {
    try {
      return await write();
    } catch (error) {
      if (sqlStateOf(error) !== undefined) throw error; // the server answered: not transient
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
  return write();
}

/** The chat's history ends with an answer and nothing is queued. */
class NothingToAnswerError extends Error {}

/** A readable `last_error` for any failure; provider errors are already written for it. */
function describeTurnFailure(error: unknown): string {
  if (error instanceof ProviderError) return error.message;
  if (
    error instanceof Error &&
    'code' in error &&
    typeof error.code === 'string' &&
    error.code.startsWith('E_')
  ) {
    return error.message;
  }
  return 'the turn failed because of an internal error (see the server log)';
}

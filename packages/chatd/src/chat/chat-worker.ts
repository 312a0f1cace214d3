import { performance } from 'node:perf_hooks';
import type { SharedV3Warning } from '@ai-sdk/provider';
import type { Logger } from 'pino';
import type { ChatConfigCache } from '../config/chat-config-cache.js';
import type { ChatTurnHistory } from '../db/queries/chat-summaries.js';
import type { AcceptedTurn, AssistantMessageInsert, ReleasedChat } from '../db/queries/chats.js';
import type { ChatMessageRow, ChatRow, ChatStatus, JsonObject } from '../db/rows.js';
import { isTransientDatabaseError } from '../db/sqlstate.js';
import type { Store } from '../db/store.js';
import { ProviderError, runChatTurn, TurnAbortedError, type TurnOptions } from '../llm/index.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { abortableSleep } from '../util/abortable-sleep.js';
import { type ChatEvent, type ChatEventHub, toStreamedMessage } from './chat-events.js';
import type { ChatMetrics, TurnOutcome } from './chat-metrics.js';
import type { TitleGenerator, TurnTitle } from './chat-titles.js';
import { PromptTooLargeError } from './context-window.js';
import { providerConnectionOf, resolveChatModel } from './model-resolution.js';
import { PartBatcher } from './part-batcher.js';
import { assembleSystemPrompt } from './prompt.js';
import type { TurnInterrupts } from './turn-interrupts.js';
import {
  type ConversationMessage,
  type TurnPromptRequest,
  TurnPrompts,
  type TurnSummary,
} from './turn-prompt.js';

/** The channel the database notifies when a chat becomes pending (migration 0003). */
export const CHAT_WORK_CHANNEL = 'chat:work';

/** Options of a {@link ChatWorker}; durations in ms. */
export interface ChatWorkerOptions {
  /** Turns this replica runs at once. */
  readonly maxConcurrentTurns: number;
  /** Pending chats claimed per acquire statement. */
  readonly acquireBatchSize: number;
  /**
   * A message accepted here is claimed for this worker only while fewer turns than this are starting
   * (claimed, no answer text yet): starting a turn (config, prompt, the provider connection) is its
   * busiest moment, and a burst of them (thousands of chats created at once) would starve the requests
   * still being accepted. Past it the chat goes `pending` and the acquire loop claims it in batches.
   */
  readonly maxStartingAtAccept: number;
  /** How often the worker refreshes the heartbeat of the claims it runs (and learns of lost ones). */
  readonly heartbeatIntervalMs: number;
  /** A running chat whose heartbeat is older than this is taken over (its worker is gone or stalled). */
  readonly staleAfterMs: number;
  /** A turn given back this many times ends in `error` the next time instead of running again. */
  readonly maxTakeovers: number;
  /** On a clean stop, how long running turns may go on before they are given back. */
  readonly shutdownGraceMs: number;
  /** Waits between the attempts to write a turn's end while the database is unreachable. */
  readonly completionRetryDelaysMs: readonly number[];
  /** Looks for pending chats this often even without a notification (a safety net). */
  readonly pollIntervalMs: number;
  /** Streamed text is published in parts at most this often… */
  readonly partIntervalMs: number;
  /** …or when this many characters have gathered. */
  readonly partMaxChars: number;
  /**
   * The first part of an answer leaves at once instead of after a whole `partIntervalMs`, and its last
   * part goes out with the final message (see `PartBatcher`); default true. False: the wave-1 batcher
   * (trailing windows, the tail flushed on its own), only to measure it (`chatd scaletest first-token`).
   */
  readonly partLeadingEdge?: boolean;
  /** Retry policy and idle timeout of provider calls. */
  readonly turn: TurnOptions;
}

/**
 * Room for one turn on this replica, held while the replica that accepts a message claims the chat in the
 * accepting statement (see `ChatService`): one of `start` or `release` ends it.
 */
export interface TurnSlot {
  /** The worker the claim is made for. */
  readonly workerId: string;
  /**
   * Runs the turn the accepting statement claimed, on the history it read. `announce` (the accepted
   * message) goes out first, with the turn's `running` status, in one notification.
   */
  start(turn: AcceptedTurn, announce: readonly ChatEvent[]): void;
  /** Gives the room back: nothing was claimed (the chat was busy, or the statement failed). */
  release(): void;
}

/** Where the replica that accepts a message finds room for its turn (a {@link ChatWorker}). */
export interface LocalTurns {
  /** Room for one more turn now, or undefined (full, or stopping: the chat is left pending instead). */
  reserveTurn(): TurnSlot | undefined;
}

/** Distinct provider warnings remembered before the set starts over. */
const MAX_WARNINGS_REMEMBERED = 1_024;

export const DEFAULT_CHAT_WORKER_OPTIONS: ChatWorkerOptions = Object.freeze({
  maxConcurrentTurns: 2_000,
  acquireBatchSize: 100,
  maxStartingAtAccept: 64,
  heartbeatIntervalMs: 5_000,
  staleAfterMs: 30_000,
  maxTakeovers: 3,
  shutdownGraceMs: 30_000,
  completionRetryDelaysMs: Object.freeze([200, 500, 1_000, 2_000, 4_000]),
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
  /**
   * Generates a chat's title beside the turn that answers its first message (another provider call, off
   * the answer's path); the turn's end writes it when it is ready by then.
   */
  readonly titles?: Pick<TitleGenerator, 'startDuringTurn' | 'saveWhenReady'>;
}

/**
 * What a turn starts with when its claiming statement read its history (the statement that accepted its
 * message, see {@link TurnSlot}, or `acquirePendingChats`).
 */
interface ClaimedStart {
  /** Null: the claim could not read it (see `acquirePendingChats`), the turn reads it itself. */
  readonly history: ChatTurnHistory | null;
  /** The compaction request the claim took (it is cleared on the row). */
  readonly compactTaken: boolean;
  /** Sent first, with the turn's `running` status. */
  readonly announce: readonly ChatEvent[];
}

/** A turn running on this replica, by its claim. */
interface LiveTurn {
  readonly chatId: string;
  /** Aborts the turn's provider call: an interrupt read from the database, a lost claim, a give-up. */
  readonly controller: AbortController;
  /** A heartbeat found the claim gone (the chat was taken over): the turn publishes and writes nothing. */
  lost: boolean;
  /** The shutdown grace period ran out: the chat is given back, the turn writes nothing. */
  givenUp: boolean;
  done?: Promise<void>;
}

/** Stops a live turn's provider call; `why` decides what the turn then writes (see {@link LiveTurn}). */
function stopTurn(turn: LiveTurn, why: 'interrupted' | 'lost' | 'given up'): void {
  if (why === 'lost') turn.lost = true;
  if (why === 'given up') turn.givenUp = true;
  turn.controller.abort(new Error(why));
}

/**
 * Runs chat turns on this replica: claims pending chats (any replica may claim any chat; SKIP LOCKED keeps
 * them from claiming one twice), heartbeats the claims it runs, takes over chats whose claim stopped
 * heartbeating, and commits each answer with the chat's next status in one statement.
 *
 * The turn engine's invariants (docs/design.md, "The turn engine") and where each is kept:
 * - Answered at most once: the answer is written only by the claim that owns the chat (`completeChatTurn`
 *   checks `claim_id`), and the schema allows one answer per user message (migration 0006).
 * - Every turn ends: heartbeats name live claims only, so a turn that gave up stops being kept alive and
 *   is taken over; takeovers per turn are bounded (`maxTakeovers`), past which the chat ends in `error`.
 * - No loop: a failed turn ends in `error` and keeps its queue; only a user action or a takeover starts
 *   an attempt, and an attempt calls the provider at most 1 + retries times (`runChatTurn`) for its
 *   answer, and as often for one summary when it compacts (`compaction.ts`).
 * - Interrupts stick: an interrupted turn always writes an `interrupted` answer (possibly empty).
 * - One owner streams: a heartbeat that finds a claim gone aborts its turn, whose parts are no longer
 *   published; streams drop parts of any claim but the current one (their status version).
 * - Drain on stop: `stop()` stops claiming, lets turns finish for `shutdownGraceMs`, then gives the rest
 *   back.
 */
export class ChatWorker implements LocalTurns {
  readonly #deps: ChatWorkerDependencies;
  /** Provider warnings already logged, by model config (each is logged once, not on every turn). */
  readonly #warned = new Set<string>();
  readonly #options: ChatWorkerOptions;
  /** Fits prompts to their model's context window, compacting histories (see `turn-prompt.ts`). */
  readonly #prompts: TurnPrompts;
  /** Live turns by claim id. */
  readonly #turns = new Map<string, LiveTurn>();
  /** Timers that find work (acquire, poll, takeovers): stopped first on stop. */
  readonly #timers: NodeJS.Timeout[] = [];
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #removeResetListener: (() => void) | undefined;
  /** Turns claimed here that have produced no answer text yet (see `maxStartingAtAccept`). */
  #starting = 0;
  /** Slots reserved by `reserveTurn` and not yet started or released: they count as running turns. */
  #reservedSlots = 0;
  /** Resolved when the last reserved slot settles (`stop()` waits for claims being made). */
  #slotsSettled: (() => void)[] = [];
  /** The acquire loop running now, if any. */
  #acquiring: Promise<void> | undefined;
  #acquireAgain = false;
  #stopped = false;
  /**
   * When (performance.now()) this replica last saw the database fail or its listener reconnect. Right
   * after an outage every claim's heartbeat is stale, the live ones too: takeovers wait until the owners
   * have had time to heartbeat again, or every running turn of the cluster would be given back.
   */
  #databaseTroubleAt = Number.NEGATIVE_INFINITY;

  constructor(deps: ChatWorkerDependencies, options: Partial<ChatWorkerOptions> = {}) {
    this.#deps = deps;
    this.#options = Object.freeze({ ...DEFAULT_CHAT_WORKER_OPTIONS, ...options });
    this.#prompts = new TurnPrompts(
      {
        store: deps.store,
        logger: deps.logger,
        onCompaction: (outcome) => deps.metrics.compacted(outcome),
      },
      this.#options.turn,
    );
  }

  /** Turns running now. */
  get runningTurns(): number {
    return this.#turns.size;
  }

  /** True once `stop()` was called: the worker claims nothing more (readiness reports it). */
  get stopping(): boolean {
    return this.#stopped;
  }

  /** Starts listening for work, the timers, and a first look for pending chats. */
  async start(): Promise<void> {
    const { pubsub } = this.#deps;
    this.#unsubscribe = await pubsub.subscribe(CHAT_WORK_CHANNEL, () => this.wake());
    // Notifications may have been missed while the listener was down: look again.
    this.#removeResetListener = pubsub.onReset(() => {
      this.#databaseTroubleAt = performance.now();
      this.wake();
    });
    this.#every(this.#options.pollIntervalMs, () => this.wake());
    this.#every(Math.max(100, Math.floor(this.#options.staleAfterMs / 2)), () => this.#releaseStale());
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#options.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
    this.wake();
  }

  /**
   * Drains: stops claiming, lets running turns finish for `shutdownGraceMs` (heartbeating them), then
   * aborts the rest and gives their chats back for another replica (a takeover: it counts towards the
   * bound).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#removeResetListener?.();
    await this.#unsubscribe?.().catch(() => {});
    // An acquire already sent, or a message being accepted into a reserved slot, may still claim chats:
    // their turns start and drain with the others.
    await this.#acquiring;
    while (this.#reservedSlots > 0) await new Promise<void>((resolve) => this.#slotsSettled.push(resolve));
    const running = () => Promise.allSettled([...this.#turns.values()].map((turn) => turn.done));
    if (this.#turns.size > 0) {
      this.#deps.logger.info(
        { turns: this.#turns.size, graceMs: this.#options.shutdownGraceMs },
        'waiting for running turns to finish',
      );
      const grace = new AbortController();
      await Promise.race([running(), abortableSleep(this.#options.shutdownGraceMs, grace.signal)]);
      grace.abort();
    }
    for (const turn of this.#turns.values()) stopTurn(turn, 'given up');
    await running();
    clearInterval(this.#heartbeatTimer);
    try {
      const released = await this.#deps.store.releaseWorkerChats(
        this.#deps.workerId,
        this.#options.maxTakeovers,
      );
      if (released.length > 0) this.#deps.logger.info({ chats: released.length }, 'gave back running chats');
      await this.#publishReleased(released);
    } catch (error) {
      this.#deps.logger.warn(
        { err: error },
        'could not give back running chats; they are taken over when stale',
      );
    }
  }

  /**
   * Room for one more turn, for a message this replica is accepting: the accepting statement claims the
   * chat for this worker and reads its history, so the turn starts without an acquire or a history read.
   */
  reserveTurn(): TurnSlot | undefined {
    if (this.#stopped || this.#free() <= 0) return undefined;
    if (this.#starting + this.#reservedSlots >= this.#options.maxStartingAtAccept) return undefined;
    this.#reservedSlots++;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#reservedSlots--;
      if (this.#reservedSlots === 0) for (const resolve of this.#slotsSettled.splice(0)) resolve();
      return true;
    };
    return {
      workerId: this.#deps.workerId,
      start: (accepted, announce) => {
        if (settle()) {
          const { history } = accepted;
          this.#startTurn(accepted.chat, { history, compactTaken: history.compactRequested, announce });
        }
      },
      release: () => {
        // Room freed: a chat left pending because of this slot may be waiting for it.
        if (settle() && this.#free() === 1) this.wake();
      },
    };
  }

  /** Turns this replica may still start (reserved slots count as running). */
  #free(): number {
    return this.#options.maxConcurrentTurns - this.#turns.size - this.#reservedSlots;
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
          const free = this.#free();
          if (free <= 0) break;
          const limit = Math.min(free, this.#options.acquireBatchSize);
          const chats = await this.#deps.store.acquirePendingChats(this.#deps.workerId, limit);
          // Claimed while stopping too: those turns run and drain with the others.
          for (const { history, compactTaken, ...chat } of chats) {
            this.#startTurn(chat, { history, compactTaken, announce: [] });
          }
          if (chats.length < limit) break;
        }
      } while (this.#acquireAgain && !this.#stopped);
    } catch (error) {
      this.#databaseTroubleAt = performance.now();
      this.#deps.logger.warn({ err: error }, 'could not acquire pending chats; retrying on the next wake-up');
    }
  }

  /**
   * Runs the turn of a chat just claimed for this worker: by `acquirePendingChats`, or by the statement
   * that accepted its message (`claimed`: the history the claim read, and the events to announce first).
   */
  #startTurn(chat: ChatRow, claimed?: ClaimedStart): void {
    // Set by the claim; the turn writes only while the chat still carries this claim.
    const claimId = chat.claimId!;
    const turn: LiveTurn = {
      chatId: chat.id,
      controller: new AbortController(),
      lost: false,
      givenUp: false,
    };
    // Interrupted before it was claimed (the interrupt was recorded on the pending chat).
    if (chat.interruptRequested) stopTurn(turn, 'interrupted');
    this.#turns.set(claimId, turn);
    turn.done = this.#runTurn(chat, claimId, turn, claimed)
      .catch((error: unknown) =>
        this.#deps.logger.error({ err: error, chatId: chat.id }, 'turn failed unexpectedly'),
      )
      .finally(() => {
        // From here on the claim is not heartbeated: if its end was not written, it is taken over.
        this.#turns.delete(claimId);
        // Capacity freed: there may be chats we left pending.
        if (this.#free() === 1) this.wake();
      });
  }

  async #runTurn(chat: ChatRow, claimId: string, turn: LiveTurn, claimed?: ClaimedStart): Promise<void> {
    const { events, interrupts, metrics, logger } = this.#deps;
    const startedAt = performance.now();
    // The turn is known by its running status's version: an interrupt for it may arrive before this line.
    const interrupt = interrupts.register(chat.id, chat.statusVersion);
    const signal = AbortSignal.any([interrupt.signal, turn.controller.signal]);
    const leadingEdge = this.#options.partLeadingEdge ?? true;
    const parts = new PartBatcher(
      (text) => {
        // A claim that was lost publishes nothing more (streams would drop it anyway: see ChatStream).
        if (!turn.lost) {
          void events.publish(chat.id, [{ type: 'message_part', text, version: chat.statusVersion }]);
        }
      },
      {
        intervalMs: this.#options.partIntervalMs,
        maxChars: this.#options.partMaxChars,
        leadingEdge,
      },
    );
    let outcome: TurnOutcome = 'completed';
    let timeToFirstTokenMs: number | null = null;
    let title: TurnTitle | undefined;
    // Starting until its first answer text (or its end): see `maxStartingAtAccept`.
    this.#starting++;
    let starting = true;
    const started = () => {
      if (!starting) return;
      starting = false;
      this.#starting--;
    };
    try {
      void events.publish(chat.id, [
        ...(claimed?.announce ?? []),
        { type: 'status', status: 'running', version: chat.statusVersion },
      ]);
      let assistant: AssistantMessageInsert | null = null;
      let lastError: string | null = null;
      try {
        // The history first: it may promote a queued message, which this turn then answers (or, when
        // it was interrupted before it started, answers as interrupted).
        const history = await this.#historyToAnswer(chat.id, claimId, claimed);
        const { replyTo } = history;
        title = this.#startTitle(chat, history);
        if (replyTo === null) {
          // Only a compaction was asked for (POST /chats/{id}/compact on an idle chat).
          await this.#compactOnly(chat, claimId, history, signal, turn);
          throw new NothingToAnswerError();
        }
        const answer = (fields: Omit<AssistantMessageInsert, 'replyTo'>) => ({ ...fields, replyTo });
        try {
          if (signal.aborted) throw new TurnAbortedError('', { cause: signal.reason });
          const result = await this.#callModel(chat, claimId, history, signal, (delta) => {
            started();
            parts.push(delta);
          });
          timeToFirstTokenMs = result.timeToFirstTokenMs;
          assistant = answer({
            content: result.text,
            finishReason: result.finishReason,
            modelConfigId: result.modelConfigId,
            ...result.usage,
          });
        } catch (error) {
          if (turn.lost || turn.givenUp) throw error;
          const partial =
            error instanceof TurnAbortedError || error instanceof ProviderError ? error.partialText : '';
          const interrupted = error instanceof TurnAbortedError;
          if (interrupted) outcome = 'interrupted';
          else {
            outcome = 'error';
            lastError = describeTurnFailure(error);
            if (!(error instanceof ProviderError || error instanceof PromptTooLargeError))
              logger.error({ err: error, chatId: chat.id }, 'turn failed');
          }
          assistant = answer({
            content: partial,
            finishReason: interrupted ? 'interrupted' : 'error',
            modelConfigId: chat.modelConfigId,
            inputTokens: null,
            outputTokens: null,
          });
        }
      } catch (error) {
        if (turn.lost) {
          outcome = 'lost';
          logger.warn(
            { chatId: chat.id },
            'the chat was taken over by another claim, or deleted; this turn is discarded',
          );
          return;
        }
        if (turn.givenUp) {
          // Stopping past the grace period: stop() gives the chat back for another replica.
          outcome = 'released';
          return;
        }
        if (!(error instanceof NothingToAnswerError)) throw error;
        // Nothing asked since the last answer and nothing queued: the turn just ends.
      }
      // The answer's last words go out with its final message, in one notification (see PartBatcher);
      // the wave-1 batcher flushed them on their own, one notification more.
      if (!leadingEdge) parts.flush();
      const tail = parts.take();
      // A title is kept only with an answer (a failed or interrupted first turn leaves it for the next).
      const answeredNow = assistant?.finishReason === 'stop' || assistant?.finishReason === 'length';
      if (!answeredNow) title?.cancel();
      const titleNow = answeredNow && title?.ready !== undefined ? { value: title.ready } : null;
      const completion = await this.#writeEnd(chat.id, claimId, assistant, lastError, titleNow);
      if (completion === 'lost') {
        outcome = 'lost';
        logger.warn(
          { chatId: chat.id },
          'the chat was taken over by another claim, or deleted; this turn is discarded',
        );
        return;
      }
      if (completion === 'unwritten') {
        outcome = 'released';
        return;
      }
      const finished: ChatEvent[] =
        tail === '' ? [] : [{ type: 'message_part', text: tail, version: chat.statusVersion }];
      if (completion.message) {
        const { modelConfigId, inputTokens, outputTokens } = completion.message;
        metrics.tokensUsed(modelConfigId, inputTokens, outputTokens);
        finished.push({ type: 'message', message: toStreamedMessage(completion.message) });
      }
      if (completion.error !== null) finished.push({ type: 'error', message: completion.error });
      if (completion.titleWritten && titleNow?.value) finished.push({ type: 'title', title: titleNow.value });
      finished.push({ type: 'status', ...completion.status });
      await events.publish(chat.id, finished);
      // Still generating: written on its own once ready.
      if (answeredNow && title && titleNow === null) this.#deps.titles?.saveWhenReady(chat.id, title);
      title = undefined;
    } finally {
      started();
      // Not handed on (the turn was lost, given back, or failed unexpectedly): stop generating it.
      title?.cancel();
      parts.discard();
      interrupt.release();
      metrics.turnEnded(outcome, performance.now() - startedAt, timeToFirstTokenMs);
    }
  }

  /**
   * Starts the chat's title beside this turn when the turn answers the chat's first message and the title
   * is still the provisional one (the claim's chat row says so: no statement). Only the claim's owner
   * starts one, so a chat's title is generated once (again only after a turn that did not answer).
   */
  #startTitle(chat: ChatRow, history: TurnHistory): TurnTitle | undefined {
    if (chat.titleState !== 'pending' || history.summary !== null || history.replyTo === null)
      return undefined;
    const users = history.messages.filter((message) => message.role === 'user');
    if (users.length !== 1) return undefined;
    return this.#deps.titles?.startDuringTurn(chat, users[0]!.content);
  }

  /** The chat's model, its provider connection and the system prompt, from the config cache. */
  async #resolveModel(chat: ChatRow) {
    const { configCache, secretBox } = this.#deps;
    const [model, systemPrompt, userPrompt] = await Promise.all([
      resolveChatModel(configCache, chat),
      configCache.getSystemPrompt(),
      configCache.getUserPrompt(chat.ownerId),
    ]);
    const connection = providerConnectionOf(model.provider, secretBox);
    return { model, connection, system: assembleSystemPrompt(systemPrompt, userPrompt) };
  }

  /**
   * Resolves the chat's configuration, fits the prompt to the model's context window (compacting the
   * history first when it is past the threshold or a compaction was asked for) and calls the model.
   */
  async #callModel(
    chat: ChatRow,
    claimId: string,
    history: TurnHistory,
    signal: AbortSignal,
    onTextDelta: (delta: string) => void,
  ) {
    const request = await this.#promptRequest(chat, claimId, history, signal);
    const { model, connection } = request;
    const prompt = await this.#prompts.prepare(request);
    const result = await runChatTurn(
      {
        provider: connection,
        model: model.config.model,
        options: model.config.options as JsonObject,
        maxOutputTokens: prompt.maxOutputTokens,
        system: prompt.system,
        messages: prompt.messages,
        signal,
        onTextDelta,
        onWarning: (warning) => this.#warnOnce(model.config.id, model.config.model, warning),
      },
      this.#options.turn,
    );
    return { ...result, modelConfigId: model.config.id };
  }

  /** What the prompt of a turn (or of a compaction) is made from: the chat's model and its history. */
  async #promptRequest(
    chat: ChatRow,
    claimId: string,
    history: TurnHistory,
    signal: AbortSignal,
  ): Promise<TurnPromptRequest> {
    const { model, connection, system } = await this.#resolveModel(chat);
    return {
      chatId: chat.id,
      claimId,
      model,
      connection,
      system,
      summary: history.summary,
      messages: history.messages,
      compactRequested: history.compactRequested,
      signal,
    };
  }

  /**
   * A turn with nothing to answer that was asked to compact: summarises the history and ends. Its failure
   * (a provider error, an interrupt) is logged and the turn ends all the same; a lost claim or a give-up
   * is left to the caller.
   */
  async #compactOnly(
    chat: ChatRow,
    claimId: string,
    history: TurnHistory,
    signal: AbortSignal,
    turn: LiveTurn,
  ): Promise<void> {
    try {
      const request = await this.#promptRequest(chat, claimId, history, signal);
      await this.#prompts.compactOnly({ ...request, compactRequested: true });
    } catch (error) {
      if (turn.lost || turn.givenUp) throw error;
      if (!(error instanceof TurnAbortedError)) {
        this.#deps.logger.warn({ err: error, chatId: chat.id }, 'the requested compaction failed');
      }
    }
  }

  /**
   * Writes the turn's end, retrying while the database is unreachable. Returns what to announce; `lost`
   * when the chat was taken over; `unwritten` when it could not be written (then the claim is no longer
   * heartbeated and the chat is taken over when stale: it is never left running).
   *
   * A retry after a failed attempt may find the claim gone because the first attempt did commit and only
   * its acknowledgement was lost. The message written under the claim tells (every end but "nothing to
   * answer" writes one), and the final events are announced from what the database holds: the current
   * status is always safe to announce, as streams order statuses by version.
   */
  async #writeEnd(
    chatId: string,
    claimId: string,
    assistant: AssistantMessageInsert | null,
    lastError: string | null,
    title: { value: string | null } | null,
  ): Promise<TurnEnd | 'lost' | 'unwritten'> {
    const { store, logger } = this.#deps;
    const write = async (
      message: AssistantMessageInsert | null,
      error: string | null,
      retried: boolean,
      withTitle: { value: string | null } | null = null,
    ): Promise<TurnEnd | 'lost'> => {
      const done = await store.completeChatTurn({
        chatId,
        claimId,
        assistant: message,
        lastError: error,
        title: withTitle,
      });
      if (done) {
        const status = { status: done.status, version: done.statusVersion, last_error: error };
        return { message: done.message, error, status, titleWritten: done.titleWritten };
      }
      if (!retried) return 'lost';
      const end = await store.getTurnEnd(chatId, claimId);
      // No chat: it was deleted (its messages with it), whether or not the first attempt committed.
      if (!end || (!end.message && message !== null)) return 'lost';
      const status = { status: end.status, version: end.statusVersion, last_error: end.lastError };
      // Whether a title went with the first attempt is not known: the chat list shows it either way.
      return { message: end.message, error: end.message ? error : null, status, titleWritten: false };
    };
    try {
      return await this.#withRetries((retried) => write(assistant, lastError, retried, title));
    } catch (error) {
      if (isTransientDatabaseError(error)) {
        logger.error(
          { err: error, chatId },
          'could not write the end of a turn: the chat is taken over when stale',
        );
        return 'unwritten';
      }
      // The database refused the answer itself: end the turn in error without it.
      logger.error({ err: error, chatId }, 'the database refused the end of a turn; ending it in error');
      const refused = 'the answer could not be saved (the database refused it; see the server log)';
      try {
        return await this.#withRetries((retried) =>
          write(
            assistant && { ...assistant, content: '', finishReason: 'error', modelConfigId: null },
            refused,
            retried,
          ),
        );
      } catch (fallbackError) {
        logger.error(
          { err: fallbackError, chatId },
          'could not end the turn in error: the chat is taken over when stale',
        );
        return 'unwritten';
      }
    }
  }

  /** Runs `write` again after each of `completionRetryDelaysMs` while it fails with a transient error. */
  async #withRetries<T>(write: (retried: boolean) => Promise<T>): Promise<T> {
    let retried = false;
    for (const delayMs of this.#options.completionRetryDelaysMs) {
      try {
        return await write(retried);
      } catch (error) {
        if (!isTransientDatabaseError(error)) throw error;
        retried = true;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
    return write(retried);
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
   * The prompt this turn answers and the user message it answers. A chat becomes pending with its question
   * as the last message, except when a turn ended with messages queued: then the oldest queued message is
   * promoted into the history here, at the start of the next turn. Promoting at turn start (not at turn
   * end) keeps the end of a turn one statement, and is safe after a crash: a chat whose history ends
   * with an answer is always promoted before it is answered again.
   *
   * Failed answers (`error`) are shown to the user but are not part of the conversation: a retry answers
   * their question again. Empty answers (an interrupt before the first token) are left out of the prompt.
   *
   * The history is what comes after the chat's summary (compaction), read with it in one statement; the
   * same statement takes a compaction request. With a request and nothing to answer, `replyTo` is null:
   * the turn only compacts. The claiming statement usually read the history too (`claimed`): then this
   * reads nothing.
   */
  async #historyToAnswer(chatId: string, claimId: string, claimed?: ClaimedStart): Promise<TurnHistory> {
    const { store, events } = this.#deps;
    let read = claimed?.history ?? (await store.getChatTurnHistory(chatId, claimId));
    // The claim took the request; a history read of its own finds the flag already cleared.
    if (claimed?.compactTaken && !read.compactRequested) read = { ...read, compactRequested: true };
    const history = read.messages.filter(isConversation);
    let last: ChatMessageRow | undefined = history.at(-1);
    if (last?.role !== 'user') {
      const promoted = await store.promoteNextQueuedMessage(chatId, claimId);
      if (promoted) {
        void events.publish(chatId, [{ type: 'message', message: toStreamedMessage(promoted) }]);
        history.push(promoted);
        last = promoted;
      } else if (!read.compactRequested) {
        throw new NothingToAnswerError();
      } else {
        last = undefined;
      }
    }
    const messages = history
      .filter((message) => message.role === 'user' || message.content !== '')
      .map((message) => ({ id: message.id, role: message.role, content: message.content }));
    return {
      messages,
      summary: read.summary,
      compactRequested: read.compactRequested,
      replyTo: last?.id ?? null,
    };
  }

  /**
   * Refreshes the heartbeat of the live claims, and learns from the answer which were lost (taken over:
   * their turns are aborted and publish nothing more) and which were asked to stop (interrupts recorded
   * in the database, for a notification this replica missed).
   */
  async #heartbeat(): Promise<void> {
    const claims = [...this.#turns.keys()];
    if (claims.length === 0) return;
    let held: Map<string, boolean>;
    try {
      const rows = await this.#deps.store.heartbeatChatClaims(claims);
      held = new Map(rows.map((row) => [row.claimId, row.interruptRequested]));
    } catch (error) {
      this.#databaseTroubleAt = performance.now();
      this.#deps.logger.warn({ err: error }, 'chat heartbeat failed');
      return;
    }
    for (const claimId of claims) {
      const turn = this.#turns.get(claimId);
      if (!turn) continue; // ended meanwhile
      const interruptRequested = held.get(claimId);
      if (interruptRequested === undefined) {
        // Not held: taken over, or its end was written since the heartbeat was sent (aborting a turn that
        // has ended is harmless: nothing reads the signal any more).
        stopTurn(turn, 'lost');
      } else if (interruptRequested) {
        stopTurn(turn, 'interrupted');
      }
    }
  }

  async #releaseStale(): Promise<void> {
    if (performance.now() - this.#databaseTroubleAt < 2 * this.#options.heartbeatIntervalMs) return;
    try {
      const released = await this.#deps.store.releaseStaleRunningChats(
        this.#options.staleAfterMs,
        this.#options.maxTakeovers,
      );
      if (released.length > 0) {
        this.#deps.logger.warn(
          { chats: released.map((chat) => chat.id) },
          'took over chats whose claim stopped heartbeating',
        );
      }
      await this.#publishReleased(released);
    } catch (error) {
      this.#databaseTroubleAt = performance.now();
      this.#deps.logger.warn({ err: error }, 'could not take over stale chats');
    }
  }

  /** Tells streams the new status of chats given back (a takeover, or a replica stopping). */
  async #publishReleased(released: readonly ReleasedChat[]): Promise<void> {
    await Promise.all(
      released.map((chat) =>
        this.#deps.events.publish(chat.id, [
          { type: 'status', status: chat.status, version: chat.statusVersion, last_error: chat.lastError },
        ]),
      ),
    );
  }

  #every(ms: number, task: () => unknown): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }
}

/** The history a turn works on: see `#historyToAnswer`. */
interface TurnHistory {
  /** The conversation after the summary, oldest first; it ends with the question when there is one. */
  readonly messages: ConversationMessage[];
  readonly summary: TurnSummary | null;
  /** Compact first (a request was taken with the history). */
  readonly compactRequested: boolean;
  /** The user message the turn answers; null when it only compacts. */
  readonly replyTo: number | null;
}

/** What a turn's end announces to streams. */
interface TurnEnd {
  readonly message: ChatMessageRow | null;
  /** The turn's own failure, sent as an `error` event. */
  readonly error: string | null;
  readonly status: { status: ChatStatus; version: number; last_error: string | null };
  /** The generated title given with the end was written with it. */
  readonly titleWritten: boolean;
}

/** Messages that are part of the conversation the model sees: all but failed answers. */
function isConversation(message: ChatMessageRow): boolean {
  return message.finishReason !== 'error';
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

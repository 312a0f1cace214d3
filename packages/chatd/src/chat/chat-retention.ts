import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Store } from '../db/store.js';
import type { ChatEventHub } from './chat-events.js';

/** Options of {@link ChatRetention}; durations in ms. */
export interface ChatRetentionOptions {
  /** Chats untouched (`updated_at`) this long are deleted (`--chat-retention`). */
  readonly retentionMs: number;
  /** How often a sweep runs; default the retention period, at most one hour. */
  readonly intervalMs?: number;
  /** Chats deleted per statement (and transaction); default 500. */
  readonly batchSize?: number;
}

/** {@link ChatRetentionOptions} resolved and checked. */
export type ResolvedChatRetentionOptions = Readonly<Required<ChatRetentionOptions>>;

const HOUR_MS = 3_600_000;
export const DEFAULT_CHAT_RETENTION_BATCH_SIZE = 500;

/** Fills in the defaults and checks the values; the result is frozen. */
export function resolveChatRetentionOptions(options: ChatRetentionOptions): ResolvedChatRetentionOptions {
  const resolved = {
    retentionMs: options.retentionMs,
    intervalMs: options.intervalMs ?? Math.min(HOUR_MS, options.retentionMs),
    batchSize: options.batchSize ?? DEFAULT_CHAT_RETENTION_BATCH_SIZE,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(Number.isSafeInteger(value) && value > 0)) {
      throw new RangeError(`chat retention ${name} must be a positive integer, got ${value}`);
    }
  }
  // Node's timers take at most 2^31 - 1 ms.
  if (resolved.intervalMs > 2 ** 31 - 1)
    throw new RangeError('chat retention intervalMs is too long for a timer');
  return Object.freeze(resolved);
}

/** What a sweep needs. */
export interface ChatRetentionDependencies {
  readonly store: Store;
  /** Open streams of deleted chats are told (`deleted`) and end. */
  readonly events: ChatEventHub;
  readonly logger: Logger;
  /** `chatd_chat_retention_deleted_total` is registered here when given. */
  readonly registry?: Registry;
}

/**
 * Deletes chats nobody touched for the retention period (`--chat-retention`), on an interval, in
 * batches, one replica at a time. Only idle chats (`waiting`, `error`): a chat that is `pending` or
 * `running` is never deleted (see `deleteIdleChats`, which also skips a chat whose row is being
 * written).
 *
 * One replica at a time: each batch is a transaction that first takes a transaction-scoped advisory lock
 * (`pg_try_advisory_xact_lock`: no connection of its own, released by the commit whatever happens). A
 * replica that finds the lock taken leaves the sweep to its holder until the next interval. Between two
 * batches the lock is free, so another replica may take over the sweep; they never delete at once, and
 * even if they did, `FOR UPDATE SKIP LOCKED` would keep them off each other's rows.
 */
export class ChatRetention {
  readonly #deps: ChatRetentionDependencies;
  readonly #options: ResolvedChatRetentionOptions;
  readonly #deleted: Counter | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
  #stopped = false;

  constructor(deps: ChatRetentionDependencies, options: ChatRetentionOptions) {
    this.#deps = deps;
    this.#options = resolveChatRetentionOptions(options);
    this.#deleted =
      deps.registry &&
      new Counter({
        name: 'chatd_chat_retention_deleted_total',
        help: 'Chats deleted by this replica because they were untouched for the retention period (--chat-retention).',
        registers: [deps.registry],
      });
  }

  /** The resolved options. */
  get options(): ResolvedChatRetentionOptions {
    return this.#options;
  }

  /** Sweeps now (in the background) and then every `intervalMs`. */
  start(): void {
    void this.sweep();
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops the interval and waits for a sweep in progress (it stops after its current batch). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#sweeping;
  }

  /**
   * Deletes idle chats batch after batch until a batch comes back short, the lock is held by another
   * replica, or the sweep is stopped. Resolves how many chats this replica deleted; never rejects (a
   * failure is logged, and the next interval tries again). Calls made while a sweep runs join it.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepBatches().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweepBatches(): Promise<number> {
    const { store, events, logger } = this.#deps;
    const { retentionMs, batchSize } = this.#options;
    let deleted = 0;
    try {
      while (!this.#stopped) {
        const batch = await store.transaction(async (tx) => {
          if (!(await tx.tryChatRetentionLock())) return undefined;
          return tx.deleteIdleChats({ idleForMs: retentionMs, limit: batchSize });
        });
        if (batch === undefined) break; // another replica sweeps
        deleted += batch.length;
        this.#deleted?.inc(batch.length);
        // Committed: their streams (rare for chats idle this long) end.
        await Promise.all(batch.map((chatId) => events.publish(chatId, [{ type: 'deleted' }])));
        if (batch.length < batchSize) break;
      }
    } catch (error) {
      logger.warn({ err: error, deleted }, 'chat retention failed; it runs again at the next interval');
    }
    if (deleted > 0)
      logger.info({ deleted, retentionMs }, 'deleted chats untouched for the retention period');
    return deleted;
  }
}

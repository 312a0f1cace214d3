import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { Store } from '../db/store.js';

/** Settings of a {@link NotifyQueueMonitor}. */
export interface NotifyQueueMonitorOptions {
  /** Usage (0 to 1) above which the replica warns and is not ready; default 0.5 (`--notify-queue-threshold 50`). */
  readonly threshold: number;
  /** How often the usage is read; the replica heartbeat period. */
  readonly intervalMs: number;
}

/** The default `--notify-queue-threshold`, as a fraction. */
export const DEFAULT_NOTIFY_QUEUE_THRESHOLD = 0.5;

/**
 * Watches `pg_notification_queue_usage()`. The queue is shared by the whole PostgreSQL cluster and only
 * drains as fast as its slowest listener: one session that LISTENs and then sits in a long transaction
 * (or a stuck replica) holds back every notification after it, and when the queue is full every
 * `pg_notify`, and so every config and chat write, fails. Read every `intervalMs` (one query, whatever the
 * number of scrapes and readiness checks), exported as `chatd_pubsub_notify_queue_usage_ratio`, logged
 * as a warning when it crosses the threshold, and a readiness reason while above it.
 */
export class NotifyQueueMonitor {
  readonly #store: Pick<Store, 'getNotificationQueueUsage'>;
  readonly #logger: Pick<Logger, 'warn' | 'info'>;
  readonly #options: NotifyQueueMonitorOptions;
  #usage: number | undefined;
  #above = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    deps: {
      store: Pick<Store, 'getNotificationQueueUsage'>;
      logger: Pick<Logger, 'warn' | 'info'>;
      registry?: Registry;
    },
    options: NotifyQueueMonitorOptions,
  ) {
    this.#store = deps.store;
    this.#logger = deps.logger;
    this.#options = Object.freeze({ ...options });
    if (deps.registry) {
      const monitor = this;
      new Gauge({
        name: 'chatd_pubsub_notify_queue_usage_ratio',
        help: "The fraction of PostgreSQL's NOTIFY queue in use (pg_notification_queue_usage()); at 1 every config and chat write fails.",
        registers: [deps.registry],
        collect() {
          if (monitor.#usage !== undefined) this.set(monitor.#usage);
        },
      });
    }
  }

  /** The usage last read, or undefined before the first read (or when reads fail). */
  get usage(): number | undefined {
    return this.#usage;
  }

  /** The readiness reason while the usage is above the threshold. */
  reason(): string | undefined {
    if (this.#usage === undefined || this.#usage <= this.#options.threshold) return undefined;
    return `the PostgreSQL notification queue is ${percent(this.#usage)} full (over ${percent(this.#options.threshold)}): a session that LISTENs is not reading (look in pg_stat_activity for a long transaction); when it is full every config and chat write fails`;
  }

  /** Reads now, then every `intervalMs`. */
  async start(): Promise<void> {
    await this.sample();
    this.#timer = setInterval(() => void this.sample(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Reads the usage once; logs a warning when it rises above the threshold, and when it falls back. */
  async sample(): Promise<void> {
    try {
      this.#usage = await this.#store.getNotificationQueueUsage();
    } catch (error) {
      // Readiness already reports an unreachable database; a stale figure must not stand for a fresh one.
      this.#usage = undefined;
      this.#logger.warn({ err: error }, 'could not read the notification queue usage');
      return;
    }
    const above = this.#usage > this.#options.threshold;
    if (above && !this.#above) {
      this.#logger.warn(
        { usage: this.#usage, threshold: this.#options.threshold },
        'the PostgreSQL notification queue is filling: a listening session is not reading; config and chat writes fail when it is full',
      );
    } else if (!above && this.#above) {
      this.#logger.info(
        { usage: this.#usage },
        'the PostgreSQL notification queue is below its threshold again',
      );
    }
    this.#above = above;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function percent(fraction: number): string {
  const value = fraction * 100;
  return `${value >= 1 ? value.toFixed(1) : value.toPrecision(2)}%`;
}

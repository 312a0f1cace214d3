import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a turn ended; the `outcome` label. */
export type TurnOutcome = 'completed' | 'error' | 'interrupted' | 'released' | 'lost';

/**
 * Turn metrics: `chatd_chat_turns_total{outcome}`, `chatd_chat_turn_duration_seconds`,
 * `chatd_chat_turn_time_to_first_token_seconds`, `chatd_chat_turns_running`. Also counted in process for
 * tests and the scale test.
 */
export class ChatMetrics {
  readonly #turns: Counter<'outcome'> | undefined;
  readonly #duration: Histogram | undefined;
  readonly #ttft: Histogram | undefined;
  readonly #outcomes = new Map<TurnOutcome, number>();

  constructor(registry?: Registry, running?: () => number) {
    if (!registry) return;
    const buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    this.#turns = new Counter({
      name: 'chatd_chat_turns_total',
      help: 'Chat turns ended on this replica, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'chatd_chat_turn_duration_seconds',
      help: 'From acquiring a pending chat to committing its answer.',
      buckets,
      registers: [registry],
    });
    this.#ttft = new Histogram({
      name: 'chatd_chat_turn_time_to_first_token_seconds',
      help: 'From acquiring a pending chat to the first streamed text.',
      buckets,
      registers: [registry],
    });
    if (running) {
      new Gauge({
        name: 'chatd_chat_turns_running',
        help: 'Turns running on this replica now.',
        registers: [registry],
        collect() {
          this.set(running());
        },
      });
    }
  }

  turnEnded(outcome: TurnOutcome, durationMs: number, timeToFirstTokenMs: number | null): void {
    this.#outcomes.set(outcome, (this.#outcomes.get(outcome) ?? 0) + 1);
    this.#turns?.inc({ outcome });
    if (outcome === 'completed') {
      this.#duration?.observe(durationMs / 1000);
      if (timeToFirstTokenMs !== null) this.#ttft?.observe(timeToFirstTokenMs / 1000);
    }
  }

  /** Turns ended with this outcome on this replica. */
  count(outcome: TurnOutcome): number {
    return this.#outcomes.get(outcome) ?? 0;
  }
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CompactionOutcome } from './compaction.js';

/** How a turn ended; the `outcome` label. */
export type TurnOutcome = 'completed' | 'error' | 'interrupted' | 'released' | 'lost';

/**
 * Turn metrics: `chatd_chat_turns_total{outcome}`, `chatd_chat_turn_duration_seconds`,
 * `chatd_chat_turn_time_to_first_token_seconds`, `chatd_chat_turns_running`, `chatd_llm_tokens_total`, `chatd_chat_compactions_total`. Also counted in process for
 * tests and the scale test.
 */
export class ChatMetrics {
  readonly #turns: Counter<'outcome'> | undefined;
  readonly #duration: Histogram | undefined;
  readonly #ttft: Histogram | undefined;
  readonly #outcomes = new Map<TurnOutcome, number>();
  readonly #tokens: Counter<'model_config' | 'kind'> | undefined;
  readonly #compactions: Counter<'outcome'> | undefined;
  readonly #compactionOutcomes = new Map<CompactionOutcome, number>();

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
    this.#tokens = new Counter({
      name: 'chatd_llm_tokens_total',
      help: 'Tokens the providers reported for the turns that ended on this replica, by model config id and kind (input or output).',
      labelNames: ['model_config', 'kind'],
      registers: [registry],
    });
    this.#compactions = new Counter({
      name: 'chatd_chat_compactions_total',
      help: 'History compactions that called the model on this replica: summarised, or failed (the oldest messages were left out instead).',
      labelNames: ['outcome'],
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

  /** Counts the tokens of an answer that was written (the ones the chat's and the daily usage add). */
  tokensUsed(modelConfigId: string | null, inputTokens: number | null, outputTokens: number | null): void {
    const model_config = modelConfigId ?? 'none';
    if (inputTokens) this.#tokens?.inc({ model_config, kind: 'input' }, inputTokens);
    if (outputTokens) this.#tokens?.inc({ model_config, kind: 'output' }, outputTokens);
  }

  /** Counts a compaction's summary call by how it went. */
  compacted(outcome: CompactionOutcome): void {
    this.#compactionOutcomes.set(outcome, (this.#compactionOutcomes.get(outcome) ?? 0) + 1);
    this.#compactions?.inc({ outcome });
  }

  /** Compactions with this outcome on this replica. */
  compactions(outcome: CompactionOutcome): number {
    return this.#compactionOutcomes.get(outcome) ?? 0;
  }

  /** Turns ended with this outcome on this replica. */
  count(outcome: TurnOutcome): number {
    return this.#outcomes.get(outcome) ?? 0;
  }
}

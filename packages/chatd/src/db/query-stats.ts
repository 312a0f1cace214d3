import { Counter, Histogram, type Registry } from 'prom-client';
import type { QueryObserver } from './metered-store.js';
import type { QueryName } from './queries/index.js';

/** Calls and errors of one query since start. */
export interface QueryCount {
  readonly calls: number;
  readonly errors: number;
  readonly totalSeconds: number;
}

/**
 * Counts every query by name, exactly, in process (for tests and the scale test) and as Prometheus
 * series `chatd_db_queries_total{query}` and `chatd_db_query_duration_seconds{query}`.
 */
export class QueryStats implements QueryObserver {
  readonly #counts = new Map<QueryName, { calls: number; errors: number; totalSeconds: number }>();
  readonly #total: Counter<'query'> | undefined;
  readonly #errors: Counter<'query'> | undefined;
  readonly #duration: Histogram<'query'> | undefined;

  constructor(registry?: Registry) {
    if (registry) {
      this.#total = new Counter({
        name: 'chatd_db_queries_total',
        help: 'Database queries run, by query name.',
        labelNames: ['query'],
        registers: [registry],
      });
      this.#errors = new Counter({
        name: 'chatd_db_query_errors_total',
        help: 'Database queries that failed, by query name.',
        labelNames: ['query'],
        registers: [registry],
      });
      this.#duration = new Histogram({
        name: 'chatd_db_query_duration_seconds',
        help: 'Wall time of database queries, by query name.',
        labelNames: ['query'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      });
    }
  }

  observe(query: QueryName, seconds: number, failed: boolean): void {
    let count = this.#counts.get(query);
    if (!count) {
      count = { calls: 0, errors: 0, totalSeconds: 0 };
      this.#counts.set(query, count);
    }
    count.calls += 1;
    count.totalSeconds += seconds;
    if (failed) count.errors += 1;
    this.#total?.inc({ query });
    if (failed) this.#errors?.inc({ query });
    this.#duration?.observe({ query }, seconds);
  }

  /** Calls of one query (0 when never called). */
  calls(query: QueryName): number {
    return this.#counts.get(query)?.calls ?? 0;
  }

  /** A copy of every count, by query name. */
  snapshot(): Record<string, QueryCount> {
    return Object.fromEntries([...this.#counts].map(([name, count]) => [name, { ...count }]));
  }

  /** The sum of calls over every query. */
  totalCalls(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count.calls;
    return total;
  }
}

import { performance } from 'node:perf_hooks';
import { CONFIG_CHANGE_CHANNEL, parseConfigChange } from '../config/config-change.js';
import { startConfigInstance } from './config-instance.js';
import { formatMs, percentile } from './percentiles.js';
import { type Pgbouncer, startPgbouncer } from './pgbouncer.js';
import { openScratchDatabase } from './scratch-database.js';

/** Figures of one propagation run. */
export interface PropagationReport {
  readonly writes: number;
  /** From issuing the write on A to B having applied its invalidation. */
  readonly writeToAppliedMs: { p50: number; p99: number; max: number };
  /** From A seeing its commit acknowledged to B having applied it (negative: B was first). */
  readonly commitToAppliedMs: { p50: number; p99: number; max: number };
  /** Whether B's next read after each applied change returned the new value (must be every one). */
  readonly freshReads: number;
  /** Whether the pools went through PgBouncer (transaction mode). */
  readonly throughPgbouncer: boolean;
}

/**
 * Measures how fast a config write on one replica reaches another: two independent instances (own pool,
 * pubsub connection and config cache) on one scratch database; `writes` sequential user-prompt writes
 * through A; for each, the moment B's invalidation ran, and B's next read. With `throughPgbouncer`, a
 * PgBouncer of its own (transaction mode) stands between both pools and the database, prepared
 * statements off, and the pubsub of each connects directly, as `--postgres-listen-url` does.
 */
export async function measureConfigPropagation(options: {
  writes: number;
  postgresUrl?: string | undefined;
  throughPgbouncer?: boolean | undefined;
}): Promise<PropagationReport> {
  const database = await openScratchDatabase({ postgresUrl: options.postgresUrl });
  let bouncer: Pgbouncer | undefined;
  try {
    bouncer = options.throughPgbouncer ? await startPgbouncer(database.url) : undefined;
    const poolUrl = bouncer ? bouncer.url(database.url) : database.url;
    const connection = bouncer ? { listenUrl: database.url, preparedStatements: false } : {};
    const a = await startConfigInstance(poolUrl, 'propagation-a', {}, undefined, undefined, connection);
    const b = await startConfigInstance(poolUrl, 'propagation-b', {}, undefined, undefined, connection);
    try {
      const user = await a.store.insertUser({ username: 'propagation', role: 'member' });
      await a.store.upsertUserChatPrompt(user.id, 'initial');
      // Subscribed after B's invalidation handler, so it runs after it: "applied" is when it fires.
      let applied: ((at: number) => void) | undefined;
      const unsubscribe = await b.pubsub.subscribe(CONFIG_CHANGE_CHANNEL, (payload) => {
        if (parseConfigChange(payload)?.id === user.id) applied?.(performance.now());
      });
      const writeToApplied: number[] = [];
      const commitToApplied: number[] = [];
      let freshReads = 0;
      await b.cache.getUserPrompt(user.id); // warm
      for (let i = 0; i < options.writes; i++) {
        const appliedAt = new Promise<number>((resolve) => {
          applied = resolve;
        });
        const startedAt = performance.now();
        await a.store.upsertUserChatPrompt(user.id, `prompt ${i}`);
        const committedAt = performance.now();
        const at = await appliedAt;
        writeToApplied.push(at - startedAt);
        commitToApplied.push(at - committedAt);
        if ((await b.cache.getUserPrompt(user.id)) === `prompt ${i}`) freshReads += 1;
      }
      await unsubscribe();
      const summary = (values: number[]) => ({
        p50: percentile(values, 50),
        p99: percentile(values, 99),
        max: Math.max(...values),
      });
      return {
        writes: options.writes,
        writeToAppliedMs: summary(writeToApplied),
        commitToAppliedMs: summary(commitToApplied),
        freshReads,
        throughPgbouncer: bouncer !== undefined,
      };
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await bouncer?.stop();
    await database.close();
  }
}

/** The report as a Markdown table. */
export function formatPropagationReport(report: PropagationReport): string {
  const row = (name: string, s: { p50: number; p99: number; max: number }) =>
    `| ${name} | ${formatMs(s.p50)} | ${formatMs(s.p99)} | ${formatMs(s.max)} |`;
  return [
    `Config propagation over ${report.writes} writes (user prompt written on replica A, applied on replica B${report.throughPgbouncer ? '; pools through PgBouncer in transaction mode, listeners direct' : ''}):`,
    '',
    '| interval | p50 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: |',
    row('write issued on A → applied on B', report.writeToAppliedMs),
    row('commit acknowledged on A → applied on B', report.commitToAppliedMs),
    '',
    `B's next read returned the new value after ${report.freshReads} of ${report.writes} writes.`,
  ].join('\n');
}

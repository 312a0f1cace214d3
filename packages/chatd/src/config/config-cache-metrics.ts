import { Counter, Gauge, type Registry } from 'prom-client';
import { type ChatConfigCache, CONFIG_CACHE_NAMES } from './chat-config-cache.js';

/**
 * Exposes a {@link ChatConfigCache}'s counters as Prometheus series. The values are read from the
 * caches' own counters when metrics are scraped, so the read path pays nothing for them.
 *
 * - `chatd_config_cache_requests_total{cache,result}`: result `hit`, `stale` (served while refreshing) or `miss`
 * - `chatd_config_cache_loads_total{cache,outcome}`: outcome `ok`, `error`, `fenced` (an invalidation kept
 *   the result out), `abandoned` (every caller left)
 * - `chatd_config_cache_invalidations_total{cache,source}`: source `notify`, `reset`, `disconnected`,
 *   `check`
 * - `chatd_config_cache_entries{cache}`
 * - `chatd_config_cache_ttl_seconds{cache}`: how long an entry is served before it is read again
 * - `chatd_config_version_applied`: the highest config version this replica has applied
 */
export function registerConfigCacheMetrics(registry: Registry, cache: ChatConfigCache): void {
  new Counter({
    name: 'chatd_config_cache_requests_total',
    help: 'Config cache reads, by cache and result (hit, stale, miss).',
    labelNames: ['cache', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, stats] of Object.entries(cache.stats())) {
        this.inc({ cache: name, result: 'hit' }, stats.hits);
        this.inc({ cache: name, result: 'stale' }, stats.staleHits);
        this.inc({ cache: name, result: 'miss' }, stats.misses);
      }
    },
  });
  new Counter({
    name: 'chatd_config_cache_loads_total',
    help: 'Config cache loads (database reads), by cache and outcome.',
    labelNames: ['cache', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, stats] of Object.entries(cache.stats())) {
        const settled = stats.loads - stats.loading;
        const ok = settled - stats.loadErrors - stats.fencedDiscards - stats.abandonedLoads;
        this.inc({ cache: name, outcome: 'ok' }, Math.max(0, ok));
        this.inc({ cache: name, outcome: 'error' }, stats.loadErrors);
        this.inc({ cache: name, outcome: 'fenced' }, stats.fencedDiscards);
        this.inc({ cache: name, outcome: 'abandoned' }, stats.abandonedLoads);
      }
    },
  });
  new Counter({
    name: 'chatd_config_cache_invalidations_total',
    help: 'Config cache invalidations, by cache and source (notify, reset, disconnected, check: a version the heartbeat saw was never notified).',
    labelNames: ['cache', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const name of CONFIG_CACHE_NAMES) {
        for (const source of ['notify', 'reset', 'disconnected', 'check'] as const) {
          this.inc({ cache: name, source }, cache.invalidationCount(name, source));
        }
      }
    },
  });
  new Gauge({
    name: 'chatd_config_cache_entries',
    help: 'Entries held by each config cache.',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      for (const [name, stats] of Object.entries(cache.stats())) this.set({ cache: name }, stats.size);
    },
  });
  const ttl = new Gauge({
    name: 'chatd_config_cache_ttl_seconds',
    help: 'How long each config cache serves an entry before reading it again (writes invalidate at once).',
    labelNames: ['cache'],
    registers: [registry],
  });
  for (const name of CONFIG_CACHE_NAMES) ttl.set({ cache: name }, cache.ttlMs(name) / 1000);
  new Gauge({
    name: 'chatd_config_version_applied',
    help: 'The highest configuration version this replica has applied.',
    registers: [registry],
    collect() {
      this.set(cache.appliedVersion);
    },
  });
}

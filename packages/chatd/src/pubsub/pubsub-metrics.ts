import { Counter, type Registry } from 'prom-client';

/** The name of the reconnect counter. */
export const RECONNECTS_METRIC = 'chatd_pubsub_reconnects_total';

/**
 * The counter of listener reconnects, registered in `registry` (never in prom-client's global registry).
 * Pubsubs that share a registry share the counter. Without a registry it counts but is not exported.
 */
export function reconnectsCounter(registry: Registry | undefined): Counter {
  const existing = registry?.getSingleMetric(RECONNECTS_METRIC);
  if (existing) return existing as Counter;
  return new Counter({
    name: RECONNECTS_METRIC,
    help: 'Times the pubsub listener connection was re-established (and every channel re-listened) after it was lost',
    registers: registry ? [registry] : [],
  });
}

/** The name of the counter of notifications sent. */
export const NOTIFICATIONS_SENT_METRIC = 'chatd_pubsub_notifications_sent_total';

/**
 * The counter of notifications this replica sent (each a `pg_notify`), by channel: what every replica's
 * listener receives and what fills the database's notification queue.
 */
export function notificationsSentCounter(registry: Registry | undefined): Counter<'channel'> {
  const existing = registry?.getSingleMetric(NOTIFICATIONS_SENT_METRIC);
  if (existing) return existing as Counter<'channel'>;
  return new Counter({
    name: NOTIFICATIONS_SENT_METRIC,
    help: 'Notifications sent (pg_notify), by channel',
    labelNames: ['channel'],
    registers: registry ? [registry] : [],
  });
}

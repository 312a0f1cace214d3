import type { Db } from '../connection.js';

/**
 * The fraction (0 to 1) of the cluster's NOTIFY queue in use: notifications not yet read by every
 * listening session. At 1, every `pg_notify` (every config write and chat write) fails.
 */
export async function getNotificationQueueUsage(db: Db): Promise<number> {
  const [row] = await db<[{ usage: number }]>`SELECT pg_notification_queue_usage() AS usage`;
  return Number(row?.usage ?? 0);
}

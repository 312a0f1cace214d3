import { randomBytes } from 'node:crypto';
import type { Logger } from '../logging/logger.js';
import type { Pubsub } from './pubsub.js';

/** What {@link checkNotificationDelivery} found. */
export type DeliveryCheckResult = 'delivered' | 'not-delivered' | 'aborted';

/**
 * Proves once that a notification published now reaches this pubsub's own listener: subscribes to a
 * channel of its own, publishes one payload on it, and waits up to `timeoutMs`. A listener behind a
 * transaction-mode pooler (PgBouncer) is accepted by the server and reports itself connected, yet
 * receives nothing; this is how chatd notices that at start, and it logs a warning that names the fix
 * (`--postgres-listen-url`). Never throws: a failed publish or subscribe is logged at debug level and
 * counts as not delivered only when nothing arrived.
 *
 * Ordering: the publish is issued only after subscribe() resolved, i.e. after LISTEN ran, so a direct
 * listener must receive it (a notification is delivered to every session LISTENing at its commit).
 */
export async function checkNotificationDelivery(options: {
  pubsub: Pubsub;
  logger: Logger;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<DeliveryCheckResult> {
  const { pubsub, logger, timeoutMs, signal } = options;
  const channel = `chatd_delivery_check_${randomBytes(6).toString('hex')}`;
  const token = randomBytes(8).toString('hex');
  let arrived!: () => void;
  const received = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  try {
    unsubscribe = await pubsub.subscribe(channel, (payload) => {
      if (payload === token) arrived();
    });
    await pubsub.publish(channel, token);
    const outcome = await Promise.race([
      received.then(() => 'delivered' as const),
      new Promise<'not-delivered'>((resolve) => {
        timer = setTimeout(() => resolve('not-delivered'), timeoutMs);
        timer.unref();
      }),
      new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    if (outcome === 'not-delivered') {
      logger.warn(
        { timeoutMs },
        'a notification this replica published did not reach its own listener: LISTEN receives nothing, so config changes, chat streams and interrupts from other replicas will not arrive. If --postgres-url goes through a transaction-mode pooler (PgBouncer), give chatd a direct connection with --postgres-listen-url',
      );
    }
    return outcome;
  } catch (error) {
    // Closing during the check, or a database error: the pubsub reports its own connection problems.
    logger.debug({ err: error }, 'notification delivery check did not complete');
    return 'aborted';
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await unsubscribe?.().catch(() => {});
  }
}

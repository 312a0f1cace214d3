import type { Logger } from 'pino';
import type { Store } from '../db/store.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import type { ChatConfigCache } from './chat-config-cache.js';
import { CONFIG_CHANGE_CHANNEL, parseConfigChange } from './config-change.js';

/**
 * Connects a {@link ChatConfigCache} to the config-change notifications the database triggers send:
 * - each notification invalidates what it names;
 * - on every reset (the listener reconnected: notifications may have been missed) every config cache is
 *   flushed, and the applied version catches up with the database's;
 * - while the listener is disconnected the cache stops trusting its entries (see `disconnectedMaxAgeMs`).
 *
 * Returns the function that disconnects it.
 */
export async function startConfigInvalidation(deps: {
  pubsub: Pubsub;
  cache: ChatConfigCache;
  store: Store;
  logger: Logger;
}): Promise<() => Promise<void>> {
  const { pubsub, cache, store, logger } = deps;

  // Flush first, then read the version: every change up to that version is either in a notification we
  // will still receive, or committed before the flush, so loads after the flush see it.
  const catchUp = async () => {
    try {
      cache.noteVersion(await store.getConfigVersion());
    } catch (error) {
      logger.warn({ err: error }, 'could not read the config version after a reset');
    }
  };

  const unsubscribe = await pubsub.subscribe(CONFIG_CHANGE_CHANNEL, (payload) => {
    const change = parseConfigChange(payload);
    if (!change) {
      // Something we do not understand changed config: trust nothing cached.
      logger.warn(
        { payload: payload.slice(0, 200) },
        'unknown config-change notification; flushing config caches',
      );
      cache.flush('notify');
      return;
    }
    cache.applyChange(change);
  });
  const removeReset = pubsub.onReset(() => {
    cache.flush('reset');
    void catchUp();
  });
  const removeConnection = pubsub.onConnectionChange((connected) => cache.setListenerConnected(connected));
  cache.setListenerConnected(pubsub.connected);
  // Subscribed, so nothing committed from now on is missed: the empty cache is consistent with the
  // database's current version.
  await catchUp();

  return async () => {
    removeReset();
    removeConnection();
    await unsubscribe();
  };
}

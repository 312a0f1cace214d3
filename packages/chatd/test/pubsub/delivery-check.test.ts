import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { checkNotificationDelivery } from '../../src/pubsub/delivery-check.js';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';
import type { Pubsub } from '../../src/pubsub/pubsub.js';

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, warnings: () => lines.filter((line) => line.level === 40) };
}

/** A pubsub whose listener hears nothing (as one behind a transaction-mode pooler). */
function deaf(pubsub: MemoryPubsub): Pubsub {
  return {
    get connected() {
      return pubsub.connected;
    },
    publish: (channel, payload) => pubsub.publish(channel, payload),
    subscribe: (channel) => pubsub.subscribe(channel, () => {}),
    onReset: (listener) => pubsub.onReset(listener),
    onConnectionChange: (listener) => pubsub.onConnectionChange(listener),
    close: () => pubsub.close(),
  };
}

describe('checkNotificationDelivery', () => {
  it('finds its own notification delivered, and warns of nothing', async () => {
    const pubsub = new MemoryPubsub();
    const { logger, warnings } = capture();
    try {
      expect(await checkNotificationDelivery({ pubsub, logger, timeoutMs: 1_000 })).toBe('delivered');
      expect(warnings()).toEqual([]);
    } finally {
      await pubsub.close();
    }
  });

  it('warns, naming --postgres-listen-url, when the notification never arrives', async () => {
    const pubsub = new MemoryPubsub();
    const { logger, warnings } = capture();
    try {
      const result = await checkNotificationDelivery({ pubsub: deaf(pubsub), logger, timeoutMs: 50 });
      expect(result).toBe('not-delivered');
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]!.msg).toContain('--postgres-listen-url');
    } finally {
      await pubsub.close();
    }
  });

  it('ends at once, without a warning, when aborted (the server is closing)', async () => {
    const pubsub = new MemoryPubsub();
    const { logger, warnings } = capture();
    const stop = new AbortController();
    try {
      const check = checkNotificationDelivery({
        pubsub: deaf(pubsub),
        logger,
        timeoutMs: 60_000,
        signal: stop.signal,
      });
      stop.abort();
      expect(await check).toBe('aborted');
      expect(warnings()).toEqual([]);
    } finally {
      await pubsub.close();
    }
  });
});

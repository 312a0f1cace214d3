/**
 * The chat event hub's sending to other replicas when the database does not answer: events published
 * meanwhile wait in one batch behind the stuck NOTIFY (not in a queue of batches, one per event, each
 * waiting its own timeout), and every publish settles within a timeout or two.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatEventHub } from '../../src/chat/chat-events.js';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A pubsub whose NOTIFYs hang (never answer) while `hanging` is set; it counts the attempts. */
class HangingPubsub extends MemoryPubsub {
  hanging = true;
  attempts = 0;
  override publish(channel: string, payload: string): Promise<void> {
    this.attempts += 1;
    if (this.hanging) return new Promise(() => {});
    return super.publish(channel, payload);
  }
}

describe('ChatEventHub while NOTIFY hangs', () => {
  it('gathers what is published meanwhile into one batch, and settles every publish', async () => {
    const pubsub = new HangingPubsub();
    const hub = new ChatEventHub({ pubsub, replicaId: 'r1', logger: pino({ level: 'silent' }) });
    const settled: boolean[] = [];
    const publishes: Promise<void>[] = [];
    // 100 parts, each in its own turn of the event loop, as a streaming turn publishes them.
    for (let index = 0; index < 100; index++) {
      const done = hub.publish('chat-1', [{ type: 'message_part', text: `w${index} `, version: 1 }]);
      publishes.push(done);
      void done.then(() => {
        settled[index] = true;
      });
      await vi.advanceTimersByTimeAsync(5);
    }
    // The first NOTIFY hangs; everything after it waits behind it, together.
    expect(pubsub.attempts).toBe(1);
    // The first one is given up after its timeout; the batch behind it is tried once, and hangs too.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(pubsub.attempts).toBe(2);
    expect(settled[0]).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(publishes);
    expect(settled.filter(Boolean)).toHaveLength(100);
    expect(pubsub.attempts).toBe(2);

    // Once the database answers again, publishing is immediate.
    pubsub.hanging = false;
    const after = hub.publish('chat-1', [{ type: 'title', title: 'back' }]);
    await vi.advanceTimersByTimeAsync(1);
    await after;
    expect(pubsub.attempts).toBe(3);
  });
});

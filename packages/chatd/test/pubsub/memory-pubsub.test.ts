import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import {
  MAX_PAYLOAD_BYTES,
  MemoryPubsub,
  PayloadTooLargeError,
  PubsubClosedError,
} from '../../src/pubsub/index.js';
import { errorRecorder, isSettled, recorder, utf8Payload } from './helpers.js';

describe('MemoryPubsub', () => {
  it('delivers asynchronously, in publish order, to the subscribers of the channel only', async () => {
    const pubsub = new MemoryPubsub();
    const a = recorder();
    const b = recorder();
    await pubsub.subscribe('a', a.handler);
    await pubsub.subscribe('b', b.handler);
    await pubsub.publish('a', 'one');
    await pubsub.publish('a', 'two');
    await pubsub.publish('b', 'three');
    expect(a.payloads, 'delivery is asynchronous, like NOTIFY').toEqual([]);
    await pubsub.flush();
    expect(a.payloads).toEqual(['one', 'two']);
    expect(b.payloads).toEqual(['three']);
    await pubsub.close();
  });

  it('delivers to every handler of a channel, the same function twice counting twice', async () => {
    const pubsub = new MemoryPubsub();
    const first = recorder();
    const second = recorder();
    await pubsub.subscribe('c', first.handler);
    await pubsub.subscribe('c', second.handler);
    await pubsub.subscribe('c', second.handler);
    await pubsub.publish('c', 'x');
    await pubsub.flush();
    expect(first.payloads).toEqual(['x']);
    expect(second.payloads).toEqual(['x', 'x']);
    await pubsub.close();
  });

  it('does not deliver to a handler subscribed after the publish (LISTEN must come first)', async () => {
    const pubsub = new MemoryPubsub();
    const late = recorder();
    await pubsub.publish('c', 'early');
    await pubsub.subscribe('c', late.handler);
    await pubsub.publish('c', 'later');
    await pubsub.flush();
    expect(late.payloads).toEqual(['later']);
    await pubsub.close();
  });

  it('stops delivering to an unsubscribed handler at once, and keeps the others', async () => {
    const pubsub = new MemoryPubsub();
    const kept = recorder();
    const removed = recorder();
    await pubsub.subscribe('c', kept.handler);
    const unsubscribe = await pubsub.subscribe('c', removed.handler);
    await pubsub.publish('c', 'in flight');
    await unsubscribe();
    await unsubscribe(); // idempotent
    await pubsub.publish('c', 'after');
    await pubsub.flush();
    expect(kept.payloads).toEqual(['in flight', 'after']);
    expect(removed.payloads, 'unsubscribed before delivery').toEqual([]);
    await pubsub.close();
  });

  it('accepts a payload of 7999 UTF-8 bytes and rejects 8000, counting multi-byte characters in bytes', async () => {
    const pubsub = new MemoryPubsub();
    const got = recorder();
    await pubsub.subscribe('c', got.handler);
    expect(MAX_PAYLOAD_BYTES).toBe(7999);
    await pubsub.publish('c', 'a'.repeat(7999));
    await pubsub.publish('c', utf8Payload(7999));
    await expect(pubsub.publish('c', 'a'.repeat(8000))).rejects.toBeInstanceOf(PayloadTooLargeError);
    // 4000 characters, 8000 bytes: a character count would let it through.
    const multiByte = utf8Payload(8000);
    expect(multiByte.length).toBe(4000);
    const error = await pubsub.publish('c', multiByte).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ code: 'E_PUBSUB_PAYLOAD_TOO_LARGE', bytes: 8000, maxBytes: 7999 });
    await pubsub.flush();
    expect(got.payloads.map((p) => Buffer.byteLength(p))).toEqual([7999, 7999]);
    await pubsub.close();
  });

  it('rejects channel names PostgreSQL would refuse or truncate, and NUL in payloads', async () => {
    const pubsub = new MemoryPubsub();
    await expect(pubsub.publish('', 'x')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(pubsub.publish('c'.repeat(64), 'x')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(pubsub.subscribe('é'.repeat(32), () => {})).rejects.toBeInstanceOf(InvalidInputError);
    await expect(pubsub.publish('c', 'a\u0000b')).rejects.toBeInstanceOf(InvalidInputError);
    await pubsub.publish('c'.repeat(63), 'x');
    await pubsub.close();
  });

  it('isolates a throwing handler (sync or async) from the others and reports it', async () => {
    const { errors, onError } = errorRecorder();
    const pubsub = new MemoryPubsub({ onError });
    const before = recorder();
    const after = recorder();
    await pubsub.subscribe('c', before.handler);
    await pubsub.subscribe('c', () => {
      throw new Error('sync boom');
    });
    await pubsub.subscribe('c', async () => {
      throw new Error('async boom');
    });
    await pubsub.subscribe('c', after.handler);
    await pubsub.publish('c', '1');
    await pubsub.publish('c', '2');
    await pubsub.flush();
    await pubsub.flush();
    expect(before.payloads).toEqual(['1', '2']);
    expect(after.payloads).toEqual(['1', '2']);
    expect(errors.map((e) => e.context)).toEqual(Array(4).fill({ source: 'handler', channel: 'c' }));
    expect(errors.map((e) => (e.error as Error).message).sort()).toEqual([
      'async boom',
      'async boom',
      'sync boom',
      'sync boom',
    ]);
    await pubsub.close();
  });

  it('simulateReconnect emits disconnected, connected, then reset, and loses notifications in flight', async () => {
    const { errors, onError } = errorRecorder();
    const pubsub = new MemoryPubsub({ onError });
    const events: string[] = [];
    const got = recorder();
    await pubsub.subscribe('c', got.handler);
    pubsub.onConnectionChange((connected) => events.push(`connected=${connected}:${pubsub.connected}`));
    pubsub.onReset(() => events.push('reset'));
    pubsub.onReset(() => {
      throw new Error('listener boom');
    });
    const removeLater = pubsub.onReset(() => events.push('removed listener'));
    removeLater();

    await pubsub.publish('c', 'lost in the gap');
    pubsub.simulateReconnect();
    expect(events).toEqual(['connected=false:false', 'connected=true:true', 'reset']);
    expect(errors.map((e) => e.context)).toEqual([{ source: 'reset-listener' }]);
    await pubsub.publish('c', 'after');
    await pubsub.flush();
    expect(got.payloads).toEqual(['after']);
    await pubsub.close();
  });

  it('while disconnected: publishes reach nobody and subscribe() waits for the reconnect', async () => {
    const pubsub = new MemoryPubsub();
    const got = recorder();
    await pubsub.subscribe('c', got.handler);
    pubsub.simulateDisconnect();
    expect(pubsub.connected).toBe(false);
    await pubsub.publish('c', 'gap');
    const late = recorder();
    const subscribing = pubsub.subscribe('d', late.handler);
    expect(await isSettled(subscribing)).toBe(false);
    pubsub.simulateReconnect();
    await subscribing;
    await pubsub.publish('c', 'c after');
    await pubsub.publish('d', 'd after');
    await pubsub.flush();
    expect(got.payloads).toEqual(['c after']);
    expect(late.payloads).toEqual(['d after']);
    await pubsub.close();
  });

  it('close() rejects waiting and later calls, reports disconnected once, delivers nothing more, and is idempotent', async () => {
    const pubsub = new MemoryPubsub();
    const got = recorder();
    const changes: boolean[] = [];
    pubsub.onConnectionChange((connected) => changes.push(connected));
    await pubsub.subscribe('c', got.handler);
    await pubsub.publish('c', 'published before close');
    pubsub.simulateDisconnect();
    const waiting = pubsub.subscribe('d', () => {});
    pubsub.simulateReconnect();
    pubsub.simulateDisconnect();
    const stillWaiting = pubsub.subscribe('e', () => {});
    await pubsub.close();
    await pubsub.close();
    await expect(waiting).resolves.toBeTypeOf('function');
    await expect(stillWaiting).rejects.toBeInstanceOf(PubsubClosedError);
    await expect(pubsub.publish('c', 'x')).rejects.toMatchObject({ code: 'E_PUBSUB_CLOSED' });
    await expect(pubsub.subscribe('c', () => {})).rejects.toBeInstanceOf(PubsubClosedError);
    await pubsub.flush();
    expect(got.payloads).toEqual([]);
    expect(pubsub.connected).toBe(false);
    expect(changes).toEqual([false, true, false]);
  });
});

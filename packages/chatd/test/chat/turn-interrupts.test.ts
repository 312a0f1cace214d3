import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TurnInterrupts } from '../../src/chat/turn-interrupts.js';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';

/** Two replicas on one pubsub: `a` takes requests, `b` runs turns. */
async function replicas(now?: () => number) {
  const pubsub = new MemoryPubsub();
  const a = new TurnInterrupts(pubsub, { now });
  const b = new TurnInterrupts(pubsub, { now });
  await a.start();
  await b.start();
  return { pubsub, a, b };
}

let opened: MemoryPubsub[] = [];
afterEach(async () => {
  for (const pubsub of opened) await pubsub.close();
  opened = [];
});

async function setUp(now?: () => number) {
  const set = await replicas(now);
  opened.push(set.pubsub);
  return set;
}

describe('TurnInterrupts', () => {
  it('aborts the running turn on another replica', async () => {
    const { a, b } = await setUp();
    const turn = b.register('chat-1', 4);
    await a.request('chat-1', 4);
    await nextMacrotask();
    expect(turn.signal.aborted).toBe(true);
    expect((turn.signal.reason as Error).message).toBe('interrupted');
  });

  it('aborts a turn that registers after the request reached its replica', async () => {
    const { a, b } = await setUp();
    await a.request('chat-1', 4);
    await nextMacrotask();
    // The claim had committed, but the worker had not started the turn yet.
    const turn = b.register('chat-1', 4);
    expect(turn.signal.aborted).toBe(true);
    // Used once: a later registration of the same turn (it cannot happen) would not be aborted again.
    turn.release();
    expect(b.register('chat-1', 4).signal.aborted).toBe(false);
  });

  it('never aborts another turn of the same chat', async () => {
    const { a, b } = await setUp();
    const older = b.register('chat-1', 4);
    await a.request('chat-1', 6);
    await nextMacrotask();
    expect(older.signal.aborted).toBe(false);
    // Two turns of one chat on one replica (one lost its claim): only the one asked for stops.
    const newer = b.register('chat-1', 6);
    const sibling = b.register('chat-1', 8);
    expect(newer.signal.aborted).toBe(true);
    expect(older.signal.aborted).toBe(false);
    expect(sibling.signal.aborted).toBe(false);
    const other = b.register('chat-2', 6);
    expect(other.signal.aborted).toBe(false);
  });

  it('forgets a request whose turn never registered within a minute', async () => {
    let time = 1_000_000;
    const { a, b } = await setUp(() => time);
    await a.request('chat-1', 4);
    await nextMacrotask();
    time += 60_000;
    expect(b.register('chat-1', 4).signal.aborted).toBe(false);
  });

  it('keeps at most 10,000 early requests, dropping the oldest', async () => {
    const { a } = await setUp();
    for (let chat = 0; chat <= 10_000; chat++) await a.request(`chat-${chat}`, 1);
    await nextMacrotask();
    expect(a.register('chat-0', 1).signal.aborted).toBe(false);
    expect(a.register('chat-1', 1).signal.aborted).toBe(true);
    expect(a.register('chat-10000', 1).signal.aborted).toBe(true);
  });

  it('aborts locally at once, before the broadcast comes back', async () => {
    const { a } = await setUp();
    const turn = a.register('chat-1', 2);
    const requested = a.request('chat-1', 2);
    expect(turn.signal.aborted).toBe(true);
    await requested;
  });

  it('ignores payloads that are not interrupt requests', async () => {
    const { pubsub, b } = await setUp();
    const turn = b.register('chat-1', 2);
    await pubsub.publish('chat:interrupt', 'chat-1');
    await pubsub.publish('chat:interrupt', '{"c":"chat-1","v":"2"}');
    await nextMacrotask();
    expect(turn.signal.aborted).toBe(false);
  });
});

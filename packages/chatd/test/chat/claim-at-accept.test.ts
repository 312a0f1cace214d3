import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import type { QueryName } from '../../src/db/queries/index.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { type LlmMockServer, startLlmMockServer } from '../../src/scaletest/llm-mock-server.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

/**
 * The replica that accepts a message claims its chat in the accepting statement when its worker has room
 * (issue 15): the turn starts with no acquire and no history read. Replica A has room for one turn; B for
 * many. The slow model keeps a turn running for as long as a test needs it.
 */
const db = useTestDatabase();
let llm: LlmMockServer;
let a: ChatdServer;
let b: ChatdServer;
let echo: string;
let slow: string;
let onA: ChatdClient;
let onB: ChatdClient;

beforeAll(async () => {
  llm = await startLlmMockServer({ latencyMs: 1_500 });
  a = await startTestServer(db.database.url, { worker: { maxConcurrentTurns: 1 } });
  b = await startTestServer(db.database.url);
  const admin = new ChatdClient(a.url, a.firstAdmin!.token);
  echo = (await createModel(admin, { provider: 'builtin', model: 'echo' })).modelConfigId;
  slow = (
    await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: llm.url,
      isDefault: false,
    })
  ).modelConfigId;
  onA = await createMember(admin, a.url, 'accepter');
  onB = onA.withBaseUrl(b.url);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await llm?.close();
});

/** Calls of these queries on both replicas. */
function calls(names: readonly QueryName[]): Record<string, number> {
  return Object.fromEntries(names.map((name) => [name, a.queryStats.calls(name) + b.queryStats.calls(name)]));
}

const TURN_QUERIES: readonly QueryName[] = [
  'appendUserMessageIfIdle',
  'insertChatWithFirstMessage',
  'getChatTurnHistory',
  'promoteNextQueuedMessage',
  'completeChatTurn',
];

describe('a message accepted by a replica with room', () => {
  it('is claimed by the accepting statement and answered there, with no history read', async () => {
    const completedOnA = a.chatMetrics.count('completed');
    const chat = await onA.createChat('first question', echo);
    // Claimed by the statement that created it: never pending.
    expect(chat.status).toBe('running');
    const first = await waitForTurn(onA, chat.id, { minMessages: 2 });
    expect(first.messages.map((m) => m.content)).toEqual(['first question', 'first question']);
    // The chat shows `waiting` as soon as the turn's end is published; A's one slot is freed just after
    // the turn is counted (chat-worker.ts). A message sent before that finds A full, and B may answer it.
    await eventually(
      () => a.chatMetrics.count('completed') === completedOnA + 1,
      'the first turn counted on A',
    );

    const before = calls(TURN_QUERIES);
    const sent = await onA.sendMessage(chat.id, 'second question');
    expect(sent.queued).toBe(false);
    const second = await waitForTurn(onA, chat.id, { minMessages: 4 });
    expect(second.messages.map((m) => m.content)).toEqual([
      'first question',
      'first question',
      'second question',
      'second question',
    ]);
    const after = calls(TURN_QUERIES);
    const made = Object.fromEntries(TURN_QUERIES.map((name) => [name, after[name]! - before[name]!]));
    expect(made).toEqual({
      appendUserMessageIfIdle: 1,
      insertChatWithFirstMessage: 0,
      getChatTurnHistory: 0,
      promoteNextQueuedMessage: 0,
      completeChatTurn: 1,
    });
    // Both turns ran on A (a turn is counted just after its end is announced).
    await eventually(() => a.chatMetrics.count('completed') === completedOnA + 2, 'both turns counted on A');
  });

  it('leaves the chat pending when the replica is full, for any replica to answer', async () => {
    const busy = await onA.createChat('keep A busy', slow);
    expect(busy.status).toBe('running');
    const completedOnB = b.chatMetrics.count('completed');
    const before = calls(TURN_QUERIES);
    const other = await onA.createChat('answered elsewhere', echo);
    expect(other.status).toBe('pending');
    const answered = await waitForTurn(onA, other.id, { minMessages: 2 });
    expect(answered.messages.map((m) => m.content)).toEqual(['answered elsewhere', 'answered elsewhere']);
    // Acquired by B, whose claiming statement read the history: no history read of its own.
    expect(calls(TURN_QUERIES).getChatTurnHistory).toBe(before.getChatTurnHistory);
    // A was full until the slow turn ended (1.5 s): B, notified at once, answered.
    await eventually(() => b.chatMetrics.count('completed') === completedOnB + 1, 'the turn counted on B');
    await waitForTurn(onA, busy.id, { minMessages: 2 });
  });

  it('is left pending while too many turns are still starting (a burst), and claimed once they stream', async () => {
    const c = await startTestServer(db.database.url, { worker: { maxStartingAtAccept: 1 } });
    try {
      const onC = onA.withBaseUrl(c.url);
      // The slow model's first token comes after 1.5 s: until then its turn is starting.
      const first = await onC.createChat('starting slowly', slow);
      expect(first.status).toBe('running');
      const second = await onC.createChat('behind a starting turn', echo);
      expect(second.status).toBe('pending');
      await waitForTurn(onC, second.id, { minMessages: 2 });
      await waitForTurn(onC, first.id, { minMessages: 2 });
      // Nothing starting any more: claimed at accept again.
      const third = await onC.createChat('room again', echo);
      expect(third.status).toBe('running');
      await waitForTurn(onC, third.id, { minMessages: 2 });
    } finally {
      await c.close();
    }
  });

  it('gives its room back when the chat was busy and the message was queued', async () => {
    // Running on B; sent through A, which has room: the statement claims nothing, and A's slot is freed.
    const elsewhere = await onB.createChat('running on B', slow);
    expect(elsewhere.status).toBe('running');
    const queued = await onA.sendMessage(elsewhere.id, 'behind it');
    expect(queued.queued).toBe(true);
    // A still has its one slot: the next chat accepted there is claimed there.
    const next = await onA.createChat('A has room again', echo);
    expect(next.status).toBe('running');
    await waitForTurn(onA, next.id, { minMessages: 2 });
    const done = await waitForTurn(onB, elsewhere.id, { minMessages: 4 });
    expect(done.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });
});

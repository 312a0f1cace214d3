/**
 * Deleting a chat while its turn runs: the provider call stops at once (the delete interrupts it) or
 * within a heartbeat (a delete the worker was not told of), the turn's end finds no claim and is
 * discarded as lost, nothing of the chat remains, and nothing is logged as an internal error.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { ChatFollower } from '../../src/scaletest/chat-follower.js';
import { ChatdClient, type StreamEvent } from '../../src/scaletest/chatd-client.js';
import { rowsOfChat } from '../support/chat-rows.js';
import { eventually } from '../support/eventually.js';
import { type ScriptedLlm, startScriptedLlm } from '../support/scripted-llm.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer } from '../support/test-server.js';

/** The heartbeat of the test replica (see startTestServer): a lost claim is noticed within it. */
const HEARTBEAT_MS = 200;

const db = useTestDatabase();
let llm: ScriptedLlm;
let server: ChatdServer;
let member: ChatdClient;
const logs: Array<{ level: number; msg: string }> = [];

beforeAll(async () => {
  // `slow …` streams for 20 s unless cut off; anything else answers at once.
  llm = await startScriptedLlm((request) =>
    request.lastUserContent.startsWith('slow')
      ? { chunks: Array.from({ length: 200 }, () => 'x'), delayMs: 100 }
      : { chunks: ['ok'] },
  );
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  server = await startTestServer(db.database.url, {
    logger: pino({ level: 'info' }, sink),
    worker: { heartbeatIntervalMs: HEARTBEAT_MS },
  });
  const admin = new ChatdClient(server.url, server.firstAdmin!.token);
  await createModel(admin, {
    provider: 'openai-compat',
    model: 'scripted',
    baseUrl: llm.url,
    apiKey: 'sk-x',
  });
  member = await createMember(admin, server.url, 'deleter');
});
afterAll(async () => {
  await server?.close();
  await llm?.close();
});

/** Starts a slow turn and waits until its provider call streams. */
async function runningChat(
  content: string,
): Promise<{ chatId: string; follower: ChatFollower; events: StreamEvent[] }> {
  const chat = await member.createChat(content);
  const events: StreamEvent[] = [];
  const follower = await ChatFollower.open(member, chat.id, (event) => events.push(event));
  await follower.until((state) => state.status === 'running' && state.lastPartAt !== undefined, 10_000);
  expect(llm.requestsFor(content)).toHaveLength(1);
  return { chatId: chat.id, follower, events };
}

/** The turn was discarded cleanly: no turn left, no row of the chat, one provider call, no error logged. */
async function expectCleanEnd(chatId: string, content: string, lostBefore: number): Promise<void> {
  await eventually(() => server.worker.runningTurns === 0, 'the turn ends', 5_000);
  expect(server.chatMetrics.count('lost')).toBe(lostBefore + 1);
  const rows = await rowsOfChat(db.sql, chatId);
  expect(Object.entries(rows).filter(([, count]) => count > 0)).toEqual([]);
  expect(llm.requestsFor(content)).toHaveLength(1);
  expect(logs.filter((entry) => entry.level >= 50)).toEqual([]);
  expect(logs.some((entry) => entry.level === 40 && entry.msg.includes('or deleted'))).toBe(true);
}

describe('deleting a chat whose turn runs', () => {
  it('DELETE stops the provider call at once; the stream gets `deleted`; nothing of the chat remains', async () => {
    const content = 'slow one';
    const lostBefore = server.chatMetrics.count('lost');
    const { chatId, follower, events } = await runningChat(content);
    const deletedAt = Date.now();
    await member.request('DELETE', `/api/v1/chats/${chatId}`);
    const [request] = llm.requestsFor(content);
    await eventually(() => request!.closedEarlyAt !== undefined, 'the provider call is cancelled', 5_000);
    // The delete interrupts the turn: far sooner than a heartbeat would notice the claim gone.
    expect(request!.closedEarlyAt! - deletedAt).toBeLessThan(HEARTBEAT_MS * 5);
    await follower.done;
    expect(events.at(-1)).toMatchObject({ event: 'deleted', data: { chat_id: chatId } });
    await expectCleanEnd(chatId, content, lostBefore);
  });

  it('a delete the worker is not told of (made in psql) stops the call within a heartbeat', async () => {
    const content = 'slow two';
    const lostBefore = server.chatMetrics.count('lost');
    const { chatId, follower } = await runningChat(content);
    const deletedAt = Date.now();
    await db.sql`DELETE FROM chats WHERE id = ${chatId}`;
    const [request] = llm.requestsFor(content);
    await eventually(() => request!.closedEarlyAt !== undefined, 'the provider call is cancelled', 5_000);
    expect(request!.closedEarlyAt! - deletedAt).toBeLessThan(HEARTBEAT_MS * 5);
    follower.close();
    await expectCleanEnd(chatId, content, lostBefore);
  });

  it('leaves the worker serving other chats', async () => {
    const chat = await member.createChat('quick');
    const follower = await ChatFollower.open(member, chat.id);
    try {
      const state = await follower.until((s) => s.status === 'waiting' && s.messages.size === 2, 10_000);
      expect([...state.messages.values()].map((m) => m.content)).toEqual(['quick', 'ok']);
    } finally {
      follower.close();
    }
  });
});

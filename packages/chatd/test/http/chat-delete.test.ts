import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';
import { chatColumns, rowsOfChat } from '../support/chat-rows.js';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';
import { SseClient } from './support/sse-client.js';

const db = useTestDatabase();
/** Two replicas on one pubsub: a delete on `a` ends streams on `b` too. */
const pubsub = new MemoryPubsub();
let a: TestApi;
let b: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };

beforeAll(async () => {
  a = await startTestApi(db.store, { pubsub });
  b = await startTestApi(db.store, { pubsub });
  users = await createTestUsers(db.store);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await pubsub.close();
});

/** A chat of the member with a few messages and a queue. */
async function busyChat(): Promise<string> {
  const token = users.member.token;
  const created = await a.request('POST', '/api/v1/chats', { token, body: { content: 'first' } });
  const chatId = created.json.id as string;
  // No worker runs here: the chat stays pending and these are queued.
  for (const content of ['second', 'third']) {
    const sent = await a.request('POST', `/api/v1/chats/${chatId}/messages`, { token, body: { content } });
    expect(sent.json.queued).toBe(true);
  }
  await db.store.insertChatMessage({
    chatId,
    role: 'assistant',
    content: 'an answer',
    modelConfigId: null,
    inputTokens: 1,
    outputTokens: 2,
  });
  return chatId;
}

describe('DELETE /chats/{id}', () => {
  it('references chats only with ON DELETE CASCADE, in every table that holds rows of a chat', async () => {
    const columns = await chatColumns(db.sql);
    expect(columns.map((c) => `${c.table}.${c.column}`)).toEqual(
      expect.arrayContaining(['chat_messages.chat_id', 'chat_queued_messages.chat_id']),
    );
    // A new per-chat table without a cascading foreign key would keep rows of deleted chats.
    for (const column of columns)
      expect(column, `${column.table}.${column.column}`).toMatchObject({ onDelete: 'c' });
  });

  it('removes the chat and every row of it (204); then it is 404 everywhere', async () => {
    const chatId = await busyChat();
    const before = await rowsOfChat(db.sql, chatId);
    expect(before).toMatchObject({
      'chats.id': 1,
      'chat_messages.chat_id': 2,
      'chat_queued_messages.chat_id': 2,
    });
    const token = users.member.token;
    const response = await a.request('DELETE', `/api/v1/chats/${chatId}`, { token });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    const after = await rowsOfChat(db.sql, chatId);
    expect(Object.entries(after).filter(([, count]) => count > 0)).toEqual([]);
    expect((await a.request('GET', `/api/v1/chats/${chatId}`, { token })).status).toBe(404);
    expect((await a.request('DELETE', `/api/v1/chats/${chatId}`, { token })).status).toBe(404);
    expect((await a.request('GET', `/api/v1/chats/${chatId}/stream`, { token })).status).toBe(404);
    const sent = await a.request('POST', `/api/v1/chats/${chatId}/messages`, {
      token,
      body: { content: 'x' },
    });
    expect(sent.status).toBe(404);
    const listed = await a.request('GET', '/api/v1/chats?archived=all&limit=200', { token });
    expect(listed.json.chats.map((chat: { id: string }) => chat.id)).not.toContain(chatId);
  });

  it('answers 404 to anyone but the owner, admins included, and deletes nothing', async () => {
    const chatId = await busyChat();
    const before = await rowsOfChat(db.sql, chatId);
    for (const user of [users.other, users.admin]) {
      const response = await a.request('DELETE', `/api/v1/chats/${chatId}`, { token: user.token });
      expect(response.status).toBe(404);
      expect(response.json.error.code).toBe('E_NOT_FOUND');
    }
    expect(await rowsOfChat(db.sql, chatId)).toEqual(before);
    const malformed = await a.request('DELETE', '/api/v1/chats/not-a-uuid', { token: users.member.token });
    expect(malformed.status).toBe(400);
  });

  it('ends the open streams of the chat on every replica with a `deleted` event', async () => {
    const chatId = await busyChat();
    const url = (api: TestApi) => `${api.url}/api/v1/chats/${chatId}/stream`;
    const streams = [
      await SseClient.connect(url(a), users.member.token),
      await SseClient.connect(url(b), users.member.token),
    ];
    try {
      for (const stream of streams) await stream.waitFor((events) => events.length >= 3, 'the snapshot');
      const response = await a.request('DELETE', `/api/v1/chats/${chatId}`, { token: users.member.token });
      expect(response.status).toBe(204);
      for (const stream of streams) {
        await stream.ended$();
        expect(stream.events.at(-1)).toEqual({ event: 'deleted', id: undefined, data: { chat_id: chatId } });
      }
    } finally {
      await Promise.all(streams.map((stream) => stream.close()));
    }
    // Nothing logged as an error on either replica.
    for (const api of [a, b]) {
      expect(api.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level >= 50)).toEqual([]);
    }
  });

  it('ends a stream whose replica missed the event (a pubsub gap) when it catches up', async () => {
    const gappy = new MemoryPubsub();
    const reader = await startTestApi(db.store, { pubsub: gappy });
    try {
      const chatId = await busyChat();
      const stream = await SseClient.connect(
        `${reader.url}/api/v1/chats/${chatId}/stream`,
        users.member.token,
      );
      await stream.waitFor((events) => events.length >= 3, 'the snapshot');
      gappy.simulateDisconnect();
      // Deleted through another replica: this one hears nothing of it.
      expect(
        (await a.request('DELETE', `/api/v1/chats/${chatId}`, { token: users.member.token })).status,
      ).toBe(204);
      gappy.simulateReconnect();
      await stream.ended$();
      expect(stream.events.at(-1)?.event).toBe('deleted');
    } finally {
      await reader.close();
      await gappy.close();
    }
  });
});

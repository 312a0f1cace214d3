import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStreamedMessage } from '../../src/chat/chat-events.js';
import { STREAM_CATCH_UP_BATCH, STREAM_SNAPSHOT_MESSAGES } from '../../src/http/chat-stream.js';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';
import { SseClient } from './support/sse-client.js';

const db = useTestDatabase();
let api: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };
const clients: SseClient[] = [];

beforeAll(async () => {
  api = await startTestApi(db.store);
  users = await createTestUsers(db.store);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await api?.close();
});

/** A waiting chat of the member with `count` messages (ids ascending), inserted in one statement. */
async function chatWithMessages(count: number): Promise<{ chatId: string; ids: number[] }> {
  const chat = await db.store.insertChat({
    ownerId: users.member.id,
    title: 'long',
    status: 'waiting',
    modelConfigId: null,
  });
  const rows = await db.sql<{ id: number }[]>`
    INSERT INTO chat_messages (chat_id, role, content)
    SELECT ${chat.id}, 'user', 'message ' || i FROM generate_series(1, ${count}) i
    RETURNING id`;
  return { chatId: chat.id, ids: rows.map((row) => row.id).sort((a, b) => a - b) };
}

async function getChat(chatId: string, query = '') {
  const response = await api.request('GET', `/api/v1/chats/${chatId}${query}`, { token: users.member.token });
  expect(response.status, response.text).toBe(200);
  return response.json as { messages: { id: number }[]; next_before_id: number | null };
}

async function connect(chatId: string, query = '', headers: Record<string, string> = {}) {
  const client = await SseClient.connect(
    `${api.url}/api/v1/chats/${chatId}/stream${query}`,
    users.member.token,
    headers,
  );
  clients.push(client);
  expect(client.response.status).toBe(200);
  return client;
}

function streamedIds(client: SseClient): number[] {
  return client.ofType('message').map((event) => event.data.id as number);
}

/** Commits a message and publishes it, as a turn's end does. */
async function commitAndPublish(chatId: string): Promise<number> {
  const row = await db.store.insertChatMessage({
    chatId,
    role: 'assistant',
    content: 'live',
    modelConfigId: null,
    inputTokens: null,
    outputTokens: null,
  });
  await api.deps.events.publish(chatId, [{ type: 'message', message: toStreamedMessage(row) }]);
  return row.id;
}

describe('GET /chats/{id}: the newest messages, paged back with before_id', () => {
  it('returns every message exactly once through next_before_id, ascending within each page', async () => {
    const { chatId, ids } = await chatWithMessages(125);
    const first = await getChat(chatId);
    expect(first.messages.map((m) => m.id)).toEqual(ids.slice(-50));
    expect(first.next_before_id).toBe(ids.at(-50));
    const pages: number[][] = [];
    let query = '?limit=40';
    for (;;) {
      const page = await getChat(chatId, query);
      const pageIds = page.messages.map((m) => m.id);
      expect(pageIds).toEqual([...pageIds].sort((a, b) => a - b));
      pages.push(pageIds);
      if (page.next_before_id === null) break;
      expect(page.next_before_id).toBe(pageIds[0]);
      query = `?limit=40&before_id=${page.next_before_id}`;
    }
    expect(pages.map((page) => page.length)).toEqual([40, 40, 40, 5]);
    expect(pages.reverse().flat()).toEqual(ids);
    // Exactly a page left: no empty page after it.
    expect((await getChat(chatId, `?limit=25&before_id=${ids[25]}`)).next_before_id).toBeNull();
    const all = await getChat(chatId, '?limit=200');
    expect(all.messages.map((m) => m.id)).toEqual(ids);
    expect(all.next_before_id).toBeNull();
    expect((await getChat(chatId, '?before_id=0')).messages).toEqual([]);
  });

  it('refuses a bad limit or before_id', async () => {
    const { chatId } = await chatWithMessages(1);
    for (const query of ['?limit=0', '?limit=201', '?before_id=-1', '?before_id=x', '?page=2']) {
      const response = await api.request('GET', `/api/v1/chats/${chatId}${query}`, {
        token: users.member.token,
      });
      expect(response.status, query).toBe(400);
    }
  });
});

describe('the stream snapshot', () => {
  it('is bounded: a new stream starts with the newest messages only, then goes live', async () => {
    const { chatId, ids } = await chatWithMessages(120);
    const client = await connect(chatId);
    await client.waitFor((events) => events.length >= 1 + STREAM_SNAPSHOT_MESSAGES, 'the snapshot');
    const live = await commitAndPublish(chatId);
    await client.waitFor((events) => events.some((e) => e.data.id === live), 'the live message');
    expect(client.events[0]!.event).toBe('status');
    expect(streamedIds(client)).toEqual([...ids.slice(-STREAM_SNAPSHOT_MESSAGES), live]);
  });

  it('is complete on a resume (after_id or Last-Event-ID), however long the gap, in order and once', async () => {
    const count = 2 * STREAM_CATCH_UP_BATCH + 150;
    const { chatId, ids } = await chatWithMessages(count);
    const byQuery = await connect(chatId, `?after_id=${ids[9]}`);
    const byHeader = await connect(chatId, '', { 'last-event-id': String(ids[9]) });
    for (const client of [byQuery, byHeader]) {
      await client.waitFor((events) => events.length >= 1 + count - 10, 'the catch-up', 15_000);
    }
    const live = await commitAndPublish(chatId);
    for (const client of [byQuery, byHeader]) {
      await client.waitFor((events) => events.some((e) => e.data.id === live), 'the live message');
      expect(streamedIds(client)).toEqual([...ids.slice(10), live]);
    }
  });

  it('sends a live event published during a catch-up after it, once', async () => {
    const { chatId, ids } = await chatWithMessages(STREAM_CATCH_UP_BATCH * 2);
    const client = await connect(chatId, `?after_id=${ids[0]}`);
    // The first batch is out; the second is read from the database after it.
    await client.waitFor((events) => events.length >= 2, 'the first batch');
    const live = await commitAndPublish(chatId);
    await client.waitFor((events) => events.some((e) => e.data.id === live), 'the live message', 15_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(streamedIds(client)).toEqual([...ids.slice(1), live]);
  });
});

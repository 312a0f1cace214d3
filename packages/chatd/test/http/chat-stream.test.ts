import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatEvent, toStreamedMessage } from '../../src/chat/chat-events.js';
import type { ChatStatus } from '../../src/db/rows.js';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';
import { PostgresPubsub } from '../../src/pubsub/postgres-pubsub.js';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';
import { SseClient } from './support/sse-client.js';

const db = useTestDatabase();
/** Two replicas on one in-process pubsub: `a` publishes, streams are served by either. */
const pubsub = new MemoryPubsub();
let a: TestApi;
let b: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };
const clients: SseClient[] = [];

beforeAll(async () => {
  a = await startTestApi(db.store, { pubsub });
  b = await startTestApi(db.store, { pubsub });
  users = await createTestUsers(db.store);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await a?.close();
  await b?.close();
  await pubsub.close();
});

async function connect(api: TestApi, chatId: string, query = '', headers: Record<string, string> = {}) {
  const client = await SseClient.connect(
    `${api.url}/api/v1/chats/${chatId}/stream${query}`,
    users.member.token,
    headers,
  );
  clients.push(client);
  expect(client.response.status).toBe(200);
  expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  return client;
}

async function newChat(status: Exclude<ChatStatus, 'running'> = 'waiting'): Promise<string> {
  const chat = await db.store.insertChat({
    ownerId: users.member.id,
    title: 'stream',
    status,
    modelConfigId: null,
  });
  return chat.id;
}

/** Commits an assistant message and publishes it, as a worker finishing a turn does. */
async function commitAndPublish(api: TestApi, chatId: string, content: string): Promise<number> {
  const row = await db.store.insertChatMessage({
    chatId,
    role: 'assistant',
    content,
    modelConfigId: null,
    inputTokens: 1,
    outputTokens: 2,
  });
  await api.deps.events.publish(chatId, [{ type: 'message', message: toStreamedMessage(row) }]);
  return row.id;
}

function messageIds(client: SseClient): number[] {
  return client.ofType('message').map((event) => {
    expect(event.id).toBe(String(event.data.id));
    return event.data.id as number;
  });
}

async function storedIds(chatId: string, afterId = 0): Promise<number[]> {
  return (await db.store.listChatMessages(chatId, afterId)).map((row) => row.id);
}

describe('chat stream', () => {
  it('catches up from the database after a pubsub gap (reset), losing nothing', async () => {
    const gappy = new MemoryPubsub();
    const writer = await startTestApi(db.store, { pubsub: gappy });
    const reader = await startTestApi(db.store, { pubsub: gappy });
    try {
      const chatId = await newChat('waiting');
      const client = await connect(reader, chatId);
      await client.waitFor((events) => events.length >= 1, 'the snapshot');
      gappy.simulateDisconnect();
      const missedId = await commitAndPublish(writer, chatId, 'sent while the listener was down');
      await gappy.flush();
      expect(messageIds(client)).not.toContain(missedId);
      gappy.simulateReconnect();
      await client.waitFor(
        (events) => events.some((e) => e.event === 'message' && e.data.id === missedId),
        'the catch-up',
      );
      expect(messageIds(client)).toEqual(await storedIds(chatId));
      // The status did not change meanwhile: the catch-up does not repeat it.
      expect(client.ofType('status').map((event) => event.data.status)).toEqual(['waiting']);
    } finally {
      await writer.close();
      await reader.close();
      await gappy.close();
    }
  });

  it('sends the status and history, then live events published by the ChatService', async () => {
    const created = await a.request('POST', '/api/v1/chats', {
      token: users.member.token,
      body: { content: 'first' },
    });
    const chatId = created.json.id as string;
    const client = await connect(a, chatId);
    await client.waitFor((events) => events.length >= 2, 'the snapshot');
    expect(client.events.slice(0, 2)).toEqual([
      { event: 'status', id: undefined, data: { status: 'pending', last_error: null } },
      {
        event: 'message',
        id: expect.any(String),
        data: expect.objectContaining({ role: 'user', content: 'first' }),
      },
    ]);

    // A worker (there is none here) ends the turn and publishes its end.
    const [claimed] = (await db.store.acquirePendingChats(randomUUID(), 100)).filter((c) => c.id === chatId);
    const end = await db.store.completeChatTurn({
      chatId,
      claimId: claimed!.claimId!,
      assistant: null,
      lastError: null,
    });
    await a.deps.events.publish(chatId, [
      { type: 'status', status: end!.status, version: end!.statusVersion },
    ]);
    await client.waitFor((events) => events.at(-1)?.data.status === 'waiting', 'the end of the turn');
    const sent = await a.request('POST', `/api/v1/chats/${chatId}/messages`, {
      token: users.member.token,
      body: { content: 'second' },
    });
    await client.waitFor((events) => events.at(-1)?.data.status === 'pending', 'the new turn');
    expect(client.events.slice(2).map((event) => event.event)).toEqual(['status', 'message', 'status']);
    expect(client.ofType('message').at(-1)?.data).toEqual(sent.json.message);
    expect(messageIds(client)).toEqual(await storedIds(chatId));
  });

  it('forwards message_part and error events; parts only of the claim whose running status was sent last', async () => {
    const chatId = await newChat('waiting');
    const client = await connect(a, chatId);
    await client.waitFor((events) => events.length >= 1, 'the snapshot');
    const events: ChatEvent[] = [
      // A part from before the snapshot's "waiting": its turn has ended and is not shown again.
      { type: 'message_part', text: 'stale', version: 1 },
      { type: 'status', status: 'running', version: 2 },
      { type: 'message_part', text: 'Hel', version: 2 },
      // A part of an older claim (taken over, its replica streams on): not this turn's.
      { type: 'message_part', text: 'taken over', version: 1 },
      { type: 'message_part', text: 'lo', version: 2 },
      { type: 'error', message: 'the model failed' },
      { type: 'status', status: 'error', version: 3, last_error: 'the model failed' },
    ];
    await a.deps.events.publish(chatId, events);
    await client.waitFor((received) => received.at(-1)?.data.status === 'error', 'the error status');
    expect(client.events.slice(1).map(({ event, data }) => ({ event, data }))).toEqual([
      { event: 'status', data: { status: 'running' } },
      { event: 'message_part', data: { text: 'Hel' } },
      { event: 'message_part', data: { text: 'lo' } },
      { event: 'error', data: { message: 'the model failed' } },
      { event: 'status', data: { status: 'error', last_error: 'the model failed' } },
    ]);
  });

  it('keeps the newest status and every message when replicas deliver them out of order', async () => {
    const chatId = await newChat('waiting');
    const client = await connect(b, chatId);
    await client.waitFor((events) => events.length >= 1, 'the snapshot');
    const question = await db.store.insertChatMessage({
      chatId,
      role: 'user',
      content: 'question',
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
    });
    const answer = await db.store.insertChatMessage({
      chatId,
      role: 'assistant',
      content: 'answer',
      modelConfigId: null,
      inputTokens: 1,
      outputTokens: 1,
    });
    // The worker's replica is quick: its events arrive first; the sender's replica's events arrive last.
    await a.deps.events.publish(chatId, [
      { type: 'status', status: 'running', version: 3 },
      { type: 'message', message: toStreamedMessage(answer) },
      { type: 'status', status: 'waiting', version: 4 },
    ]);
    await a.deps.events.publish(chatId, [
      { type: 'message', message: toStreamedMessage(question) },
      { type: 'status', status: 'pending', version: 2 },
    ]);
    await client.waitFor(
      (events) => events.filter((e) => e.event === 'message').length === 2,
      'both messages',
    );
    await pubsub.flush();
    expect(client.ofType('status').map((event) => event.data.status)).toEqual([
      'waiting',
      'running',
      'waiting',
    ]);
    expect(messageIds(client).sort((x, y) => x - y)).toEqual([question.id, answer.id]);
  });

  it('resumes after after_id or Last-Event-ID (the later of the two) without repeating messages', async () => {
    const chatId = await newChat();
    const [first, second, third] = [
      await commitAndPublish(a, chatId, 'one'),
      await commitAndPublish(a, chatId, 'two'),
      await commitAndPublish(a, chatId, 'three'),
    ];
    const afterFirst = await connect(a, chatId, `?after_id=${first}`);
    const afterSecond = await connect(b, chatId, '', { 'last-event-id': String(second) });
    const both = await connect(a, chatId, `?after_id=${first}`, { 'last-event-id': String(second) });
    for (const client of [afterFirst, afterSecond, both]) {
      await client.waitFor(
        (events) => messageIds(client).includes(third!) && events.length > 0,
        'the snapshot',
      );
    }
    expect(messageIds(afterFirst)).toEqual([second, third]);
    expect(messageIds(afterSecond)).toEqual([third]);
    expect(messageIds(both)).toEqual([third]);

    const fourth = await commitAndPublish(a, chatId, 'four');
    for (const client of [afterFirst, afterSecond, both]) {
      await client.waitFor(() => messageIds(client).includes(fourth), 'the live message');
    }
    expect(messageIds(afterSecond)).toEqual([third, fourth]);
  });

  it('loses and repeats nothing when messages are committed while clients connect, on either replica', async () => {
    const chatId = await newChat();
    const total = 60;
    const producer = (async () => {
      for (let i = 0; i < total; i++) {
        await commitAndPublish(a, chatId, `m${i}`);
        if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const connecting: Promise<SseClient>[] = [];
    for (let i = 0; i < 8; i++) {
      connecting.push(connect(i % 2 === 0 ? a : b, chatId));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const streams = await Promise.all(connecting);
    await producer;
    const expected = await storedIds(chatId);
    expect(expected).toHaveLength(total);
    for (const client of streams) {
      await client.waitFor(() => messageIds(client).at(-1) === expected.at(-1), 'the last message');
      expect(messageIds(client)).toEqual(expected);
    }
  });

  it('replaces a message too large for NOTIFY with the message read from the store', async () => {
    const chatId = await newChat();
    const remote = await connect(b, chatId);
    const local = await connect(a, chatId);
    await remote.waitFor((events) => events.length >= 1, 'the snapshot');
    const content = 'é'.repeat(20_000);
    const id = await commitAndPublish(a, chatId, content);
    const small = await commitAndPublish(a, chatId, 'small after large');
    for (const client of [remote, local]) {
      await client.waitFor(() => messageIds(client).includes(small), 'both messages');
      expect(messageIds(client)).toEqual([id, small]);
      expect(client.ofType('message')[0]?.data.content).toBe(content);
      expect(client.ofType('message')[0]?.data.truncated).toBeUndefined();
    }
  });

  it('unsubscribes when the client disconnects', async () => {
    const chatId = await newChat();
    const client = await connect(a, chatId);
    await client.waitFor((events) => events.length >= 1, 'the snapshot');
    expect(a.deps.events.hasLocalListeners(chatId)).toBe(true);
    await client.close();
    const deadline = Date.now() + 5_000;
    while (a.deps.events.hasLocalListeners(chatId) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(a.deps.events.hasLocalListeners(chatId)).toBe(false);
  });

  it('disconnects a client that does not read, instead of buffering without bound', async () => {
    const api = await startTestApi(db.store, { pubsub, streamMaxBufferedBytes: 64 * 1024 });
    try {
      const chatId = await newChat();
      const { response, closed } = await openPausedStream(`${api.url}/api/v1/chats/${chatId}/stream`);
      expect(response.statusCode).toBe(200);
      const part: ChatEvent = { type: 'message_part', text: 'z'.repeat(64 * 1024), version: 2 };
      await api.deps.events.publish(chatId, [{ type: 'status', status: 'running', version: 2 }]);
      for (let i = 0; i < 200 && api.deps.events.hasLocalListeners(chatId); i++) {
        await api.deps.events.publish(chatId, [part]);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(api.deps.events.hasLocalListeners(chatId)).toBe(false);
      await closed;
    } finally {
      await api.close();
    }
  });

  it('sends keepalive comments, and ends open streams when the app closes', async () => {
    const api = await startTestApi(db.store, { pubsub, streamHeartbeatMs: 20 });
    const chatId = await newChat();
    const client = await connect(api, chatId);
    const deadline = Date.now() + 5_000;
    while (!client.comments.includes('keepalive') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(client.comments).toContain('keepalive');
    const closing = api.close();
    await client.ended$();
    await closing;
    expect(client.ended).toBe(true);
    expect(api.deps.events.hasLocalListeners(chatId)).toBe(false);
  });
});

describe('chat stream across replicas on PostgreSQL LISTEN/NOTIFY', () => {
  let pubsubs: PostgresPubsub[] = [];
  let publisher: TestApi;
  let server: TestApi;

  beforeAll(async () => {
    pubsubs = [await PostgresPubsub.connect(db.database.url), await PostgresPubsub.connect(db.database.url)];
    publisher = await startTestApi(db.store, { pubsub: pubsubs[0]! });
    server = await startTestApi(db.store, { pubsub: pubsubs[1]! });
  });
  afterAll(async () => {
    await publisher?.close();
    await server?.close();
    await Promise.all(pubsubs.map((pubsub) => pubsub.close()));
  });

  it('streams from app B what the API of app A commits, large messages included', async () => {
    const chatId = await newChat('waiting');
    const client = await connect(server, chatId);
    await client.waitFor((events) => events.length >= 1, 'the snapshot');
    const sent = await publisher.request('POST', `/api/v1/chats/${chatId}/messages`, {
      token: users.member.token,
      body: { content: 'across replicas' },
    });
    expect(sent.status).toBe(202);
    await client.waitFor((events) => events.at(-1)?.data.status === 'pending', 'the status from replica A');
    expect(client.ofType('message').map((event) => event.data)).toEqual([sent.json.message]);

    const large = await commitAndPublish(publisher, chatId, 'x'.repeat(10_000));
    await client.waitFor(() => messageIds(client).includes(large), 'the large message');
    expect(client.ofType('message').at(-1)?.data.content).toBe('x'.repeat(10_000));
    expect(messageIds(client)).toEqual(await storedIds(chatId));
  });
});

/** Opens a stream with node:http and never reads it: a client whose side of the connection is stuck. */
function openPausedStream(url: string): Promise<{ response: IncomingMessage; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(
      url,
      { headers: { authorization: `Bearer ${users.member.token}` } },
      (response) => {
        response.pause();
        const closed = new Promise<void>((done) => {
          response.once('close', () => done());
          response.once('error', () => done());
        });
        resolve({ response, closed });
      },
    );
    request.on('error', reject);
  });
}

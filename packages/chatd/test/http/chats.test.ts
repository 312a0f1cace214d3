import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/test-database.js';
import {
  createTestUsers,
  seedModelConfig,
  startTestApi,
  type TestApi,
  type TestUser,
} from './support/api-harness.js';

const db = useTestDatabase();
let api: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };

beforeAll(async () => {
  api = await startTestApi(db.store);
  users = await createTestUsers(db.store);
});
afterAll(() => api?.close());

async function createChat(user: TestUser, content = 'Hello there'): Promise<Record<string, unknown>> {
  const response = await api.request('POST', '/api/v1/chats', { token: user.token, body: { content } });
  expect(response.status, response.text).toBe(201);
  return response.json;
}

async function listIds(user: TestUser, query = ''): Promise<string[]> {
  const response = await api.request('GET', `/api/v1/chats${query}`, { token: user.token });
  expect(response.status).toBe(200);
  return response.json.chats.map((chat: { id: string }) => chat.id);
}

describe('chats', () => {
  it('creates a pending chat titled after its first message', async () => {
    const chat = await createChat(users.member, 'What is\nthe weather?');
    expect(chat).toEqual({
      id: expect.any(String),
      title: 'What is',
      status: 'pending',
      model_config_id: null,
      last_error: null,
      archived: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      usage: { input_tokens: 0, output_tokens: 0 },
    });
  });

  it('uses a chosen model config, and refuses an unknown one or blank content', async () => {
    const { modelConfigId } = await seedModelConfig(db.store);
    const response = await api.request('POST', '/api/v1/chats', {
      token: users.member.token,
      body: { content: 'hi', model_config_id: modelConfigId },
    });
    expect(response.json.model_config_id).toBe(modelConfigId);
    const unknown = await api.request('POST', '/api/v1/chats', {
      token: users.member.token,
      body: { content: 'hi', model_config_id: '00000000-0000-4000-8000-000000000000' },
    });
    expect(unknown.status).toBe(400);
    const blank = await api.request('POST', '/api/v1/chats', {
      token: users.member.token,
      body: { content: '  ' },
    });
    expect(blank.status).toBe(400);
  });

  it('lists only the caller’s own chats', async () => {
    const mine = await createChat(users.member);
    const theirs = await createChat(users.other);
    const memberIds = await listIds(users.member);
    expect(memberIds).toContain(mine.id);
    expect(memberIds).not.toContain(theirs.id);
    expect(await listIds(users.other)).not.toContain(mine.id);
  });

  it('shows a chat with its messages and queue', async () => {
    const chat = await createChat(users.member, 'first');
    const detail = await api.request('GET', `/api/v1/chats/${chat.id}`, { token: users.member.token });
    expect(detail.status).toBe(200);
    expect(detail.json).toEqual({
      chat: expect.objectContaining({ id: chat.id, status: 'pending' }),
      messages: [
        {
          id: expect.any(Number),
          role: 'user',
          content: 'first',
          model_config_id: null,
          input_tokens: null,
          output_tokens: null,
          finish_reason: null,
          reply_to: null,
          created_at: expect.any(String),
        },
      ],
      queued_messages: [],
      next_before_id: null,
    });
  });

  it('queues messages sent while a turn is pending, up to 20; the 21st is 429', async () => {
    const chat = await createChat(users.member);
    const path = `/api/v1/chats/${chat.id}/messages`;
    for (let i = 1; i <= 20; i++) {
      const response = await api.request('POST', path, {
        token: users.member.token,
        body: { content: `q${i}` },
      });
      expect(response.status).toBe(202);
      expect(response.json).toEqual({
        queued: true,
        queued_message: { id: expect.any(Number), content: `q${i}`, created_at: expect.any(String) },
      });
    }
    const full = await api.request('POST', path, { token: users.member.token, body: { content: 'q21' } });
    expect(full.status).toBe(429);
    expect(full.json.error.code).toBe('E_QUEUE_FULL');
    const detail = await api.request('GET', `/api/v1/chats/${chat.id}`, { token: users.member.token });
    expect(detail.json.queued_messages.map((q: { content: string }) => q.content)).toEqual(
      Array.from({ length: 20 }, (_, i) => `q${i + 1}`),
    );
  });

  it('appends directly to an idle chat and makes it pending', async () => {
    const chat = await db.store.insertChat({
      ownerId: users.member.id,
      title: 'idle',
      status: 'waiting',
      modelConfigId: null,
    });
    const response = await api.request('POST', `/api/v1/chats/${chat.id}/messages`, {
      token: users.member.token,
      body: { content: 'next' },
    });
    expect(response.status).toBe(202);
    expect(response.json).toEqual({
      queued: false,
      message: expect.objectContaining({ role: 'user', content: 'next' }),
    });
    expect((await db.store.getChatById(chat.id))?.status).toBe('pending');
  });

  it('interrupts a pending turn with 202: recorded on the chat for the worker that claims it', async () => {
    const chat = await createChat(users.member);
    const response = await api.request('POST', `/api/v1/chats/${chat.id}/interrupt`, {
      token: users.member.token,
    });
    expect(response.status).toBe(202);
    expect(response.text).toBe('');
    // No worker runs here; test/chat/turn-engine.test.ts follows such a turn to its interrupted end.
    expect(await db.store.getChatById(chat.id as string)).toMatchObject({
      status: 'pending',
      interruptRequested: true,
    });
  });

  it('retries only a chat in error (409 otherwise), which goes back to pending', async () => {
    const chat = await createChat(users.member);
    const path = `/api/v1/chats/${chat.id}/retry`;
    const busy = await api.request('POST', path, { token: users.member.token });
    expect(busy.status).toBe(409);
    expect(busy.json.error.code).toBe('E_CONFLICT');
    await db.sql`UPDATE chats SET status = 'error', last_error = 'failed' WHERE id = ${chat.id as string}`;
    expect((await api.request('POST', path, { token: users.member.token })).status).toBe(202);
    expect(await db.store.getChatById(chat.id as string)).toMatchObject({
      status: 'pending',
      lastError: null,
    });
  });

  it('archives and unarchives with 204; archived chats are listed only on request and take no messages', async () => {
    const chat = await createChat(users.member);
    const id = chat.id as string;
    expect(
      (await api.request('POST', `/api/v1/chats/${id}/archive`, { token: users.member.token })).status,
    ).toBe(204);
    expect(await listIds(users.member)).not.toContain(id);
    expect(await listIds(users.member, '?include_archived=true')).toContain(id);
    const refused = await api.request('POST', `/api/v1/chats/${id}/messages`, {
      token: users.member.token,
      body: { content: 'hello?' },
    });
    expect(refused.status).toBe(400);
    expect(
      (await api.request('POST', `/api/v1/chats/${id}/unarchive`, { token: users.member.token })).status,
    ).toBe(204);
    expect(await listIds(users.member)).toContain(id);
  });

  it('answers 404 for another user’s chat on every chat route, with nothing changed', async () => {
    const chat = await createChat(users.member);
    const id = chat.id as string;
    const token = users.other.token;
    expect((await api.request('GET', `/api/v1/chats/${id}`, { token })).status).toBe(404);
    expect(
      (await api.request('POST', `/api/v1/chats/${id}/messages`, { token, body: { content: 'x' } })).status,
    ).toBe(404);
    expect((await api.request('POST', `/api/v1/chats/${id}/archive`, { token })).status).toBe(404);
    expect((await api.request('POST', `/api/v1/chats/${id}/interrupt`, { token })).status).toBe(404);
    const row = await db.store.getChatById(id);
    expect(row).toMatchObject({ archived: false, status: 'pending' });
    expect(await db.store.listQueuedMessages(id)).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryPubsub } from '../../src/pubsub/memory-pubsub.js';
import { useTestDatabase } from '../support/test-database.js';
import {
  createTestUser,
  seedModelConfig,
  startTestApi,
  type TestApi,
  type TestUser,
} from './support/api-harness.js';
import { SseClient } from './support/sse-client.js';

/** Per-user limits on paid work and open streams, and streams re-checked after a gap in notifications. */
const db = useTestDatabase();
const pubsub = new MemoryPubsub();
let api: TestApi;
let member: TestUser;
let other: TestUser;

beforeAll(async () => {
  api = await startTestApi(db.store, {
    pubsub,
    newChatsPerMinute: 2,
    messagesPerMinute: 3,
    maxStreamsPerUser: 2,
  });
  member = await createTestUser(db.store, 'member');
  other = await createTestUser(db.store, 'member', 'other');
  const { modelConfigId } = await seedModelConfig(db.store);
  await db.sql`UPDATE chat_model_configs SET is_default = true WHERE id = ${modelConfigId}`;
});
afterAll(async () => {
  await api?.close();
  await pubsub.close();
});

async function chatOf(user: TestUser): Promise<string> {
  return (await db.store.insertChat({ ownerId: user.id, title: 't', status: 'waiting', modelConfigId: null }))
    .id;
}

describe('per-user limits', () => {
  it('refuses chat creation past the limit with 429 and Retry-After, per user', async () => {
    const create = (user: TestUser) =>
      api.request('POST', '/api/v1/chats', { token: user.token, body: { content: 'hello' } });
    expect((await create(member)).status).toBe(201);
    expect((await create(member)).status).toBe(201);
    const refused = await create(member);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('E_RATE_LIMITED');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another user is not affected, and nothing was created by the refused request.
    expect((await create(other)).status).toBe(201);
    const [{ count }] = await db.sql<[{ count: number }]>`
      SELECT count(*)::int AS count FROM chats WHERE owner_id = ${member.id}`;
    expect(count).toBe(2);
  });

  it('refuses messages past the limit, and checks the caller first (no 429 without a valid token)', async () => {
    const chatId = await chatOf(other);
    const send = (token: string) =>
      api.request('POST', `/api/v1/chats/${chatId}/messages`, { token, body: { content: 'more' } });
    for (let i = 0; i < 3; i++) expect((await send(other.token)).status).toBe(202);
    const refused = await send(other.token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await send('chatd_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb')).status).toBe(401);
    const [{ count }] = await db.sql<[{ count: number }]>`
      SELECT (SELECT count(*) FROM chat_messages WHERE chat_id = ${chatId})
           + (SELECT count(*) FROM chat_queued_messages WHERE chat_id = ${chatId}) AS count`;
    expect(Number(count)).toBe(3);
  });

  it('caps the streams one user holds open', async () => {
    const person = await createTestUser(db.store, 'member', 'streamer');
    const chatId = await chatOf(person);
    const url = `${api.url}/api/v1/chats/${chatId}/stream`;
    const first = await SseClient.connect(url, person.token);
    const second = await SseClient.connect(url, person.token);
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    const third = await SseClient.connect(url, person.token);
    expect(third.response.status).toBe(429);
    expect(third.response.headers.get('retry-after')).toMatch(/^\d+$/);
    // Closing one frees its place.
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await SseClient.connect(url, person.token);
    expect(again.response.status).toBe(200);
    await Promise.all([second.close(), again.close(), third.close()]);
  });
});

describe('streams after a gap in notifications', () => {
  it('re-checks every open stream on reconnect and closes those whose credential ended meanwhile', async () => {
    const person = await createTestUser(db.store, 'member', 'gap');
    const keeper = await createTestUser(db.store, 'member', 'keeper');
    const revoked = await SseClient.connect(
      `${api.url}/api/v1/chats/${await chatOf(person)}/stream`,
      person.token,
    );
    const kept = await SseClient.connect(
      `${api.url}/api/v1/chats/${await chatOf(keeper)}/stream`,
      keeper.token,
    );
    expect([revoked.response.status, kept.response.status]).toEqual([200, 200]);
    // This app's pubsub is in memory: the database's notification of this delete reaches nobody, as if
    // the listener had been down.
    await db.sql`DELETE FROM api_tokens WHERE user_id = ${person.id}`;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(revoked.ended).toBe(false);
    pubsub.simulateDisconnect();
    pubsub.simulateReconnect();
    await Promise.race([
      revoked.ended$(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('still open after the reset')), 3_000)),
    ]);
    expect(kept.ended).toBe(false);
    await kept.close();
  });
});

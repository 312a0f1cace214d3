import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';

const db = useTestDatabase();
let api: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };

beforeAll(async () => {
  api = await startTestApi(db.store);
  users = await createTestUsers(db.store);
});
afterAll(() => api?.close());

const USER_PROMPT = '/api/v1/chat/config/user-prompt';
const SYSTEM_PROMPT = '/api/v1/chat/config/system-prompt';
const LIMIT = 128 * 1024;

/** A string of exactly `bytes` UTF-8 bytes, mostly 3-byte characters (so characters != bytes). */
function utf8OfBytes(bytes: number): string {
  const text = '€'.repeat(Math.floor(bytes / 3)) + 'a'.repeat(bytes % 3);
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

describe('user prompt', () => {
  it('is empty until set, then reads back', async () => {
    const fresh = await api.request('GET', USER_PROMPT, { token: users.other.token });
    expect(fresh.json).toEqual({ custom_prompt: '' });
    const put = await api.request('PUT', USER_PROMPT, {
      token: users.other.token,
      body: { custom_prompt: 'Be terse.' },
    });
    expect(put.json).toEqual({ custom_prompt: 'Be terse.' });
    expect((await api.request('GET', USER_PROMPT, { token: users.other.token })).json).toEqual({
      custom_prompt: 'Be terse.',
    });
  });

  it('accepts exactly 128 KiB of UTF-8 and refuses one byte more with 413, keeping the old prompt', async () => {
    const atLimit = utf8OfBytes(LIMIT);
    const accepted = await api.request('PUT', USER_PROMPT, {
      token: users.member.token,
      body: { custom_prompt: atLimit },
    });
    expect(accepted.status).toBe(200);
    expect((await api.request('GET', USER_PROMPT, { token: users.member.token })).json.custom_prompt).toBe(
      atLimit,
    );

    const refused = await api.request('PUT', USER_PROMPT, {
      token: users.member.token,
      body: { custom_prompt: utf8OfBytes(LIMIT + 1) },
    });
    expect(refused.status).toBe(413);
    expect(refused.json.error).toEqual({ code: 'E_TOO_LARGE', message: expect.stringContaining('131072') });
    expect((await api.request('GET', USER_PROMPT, { token: users.member.token })).json.custom_prompt).toBe(
      atLimit,
    );
  });

  it('is per user: each reads and writes only their own', async () => {
    const alice = users.member;
    const bob = users.other;
    await api.request('PUT', USER_PROMPT, { token: alice.token, body: { custom_prompt: 'alice prompt' } });
    await api.request('PUT', USER_PROMPT, { token: bob.token, body: { custom_prompt: 'bob prompt' } });
    await api.request('PUT', USER_PROMPT, {
      token: users.admin.token,
      body: { custom_prompt: 'admin prompt' },
    });
    expect((await api.request('GET', USER_PROMPT, { token: alice.token })).json.custom_prompt).toBe(
      'alice prompt',
    );
    expect((await api.request('GET', USER_PROMPT, { token: bob.token })).json.custom_prompt).toBe(
      'bob prompt',
    );
    expect((await db.store.getUserChatPrompt(alice.id))?.customPrompt).toBe('alice prompt');
    expect((await db.store.getUserChatPrompt(users.admin.id))?.customPrompt).toBe('admin prompt');
    // There is no way to name another user: a user_id field is refused.
    const smuggled = await api.request('PUT', USER_PROMPT, {
      token: bob.token,
      body: { custom_prompt: 'x', user_id: alice.id },
    });
    expect(smuggled.status).toBe(400);
    expect((await db.store.getUserChatPrompt(alice.id))?.customPrompt).toBe('alice prompt');
  });
});

describe('system prompt', () => {
  it('is set and read by admins, with the same 128 KiB limit', async () => {
    const put = await api.request('PUT', SYSTEM_PROMPT, {
      token: users.admin.token,
      body: { system_prompt: 'You are chatd.' },
    });
    expect(put.json).toEqual({ system_prompt: 'You are chatd.' });
    expect((await api.request('GET', SYSTEM_PROMPT, { token: users.admin.token })).json).toEqual({
      system_prompt: 'You are chatd.',
    });
    const tooLarge = await api.request('PUT', SYSTEM_PROMPT, {
      token: users.admin.token,
      body: { system_prompt: utf8OfBytes(LIMIT + 1) },
    });
    expect(tooLarge.status).toBe(413);
    expect(await db.store.getSystemPrompt()).toBe('You are chatd.');
  });
});

describe('config status', () => {
  it('shows the config version and each replica with its applied version', async () => {
    const replicaId = randomUUID();
    await db.store.upsertReplica({ id: replicaId, hostname: 'replica-a.test' });
    await api.request('PUT', SYSTEM_PROMPT, { token: users.admin.token, body: { system_prompt: 'bump' } });
    const version = await db.store.getConfigVersion();
    expect(version).toBeGreaterThan(0);
    await db.store.heartbeatReplica(replicaId, version, 60_000);

    const status = await api.request('GET', '/api/v1/chat/config/status', { token: users.admin.token });
    expect(status.status).toBe(200);
    expect(status.json.version).toBe(version);
    expect(status.json.replicas).toContainEqual({
      id: replicaId,
      hostname: 'replica-a.test',
      applied_version: version,
      heartbeat_at: expect.any(String),
      started_at: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(status.json.replicas[0].heartbeat_at))).toBe(false);

    await api.request('PUT', USER_PROMPT, {
      token: users.member.token,
      body: { custom_prompt: 'another change' },
    });
    const later = await api.request('GET', '/api/v1/chat/config/status', { token: users.admin.token });
    expect(later.json.version).toBeGreaterThan(version);
  });
});

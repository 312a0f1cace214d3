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

describe('users', () => {
  it('shows the caller', async () => {
    const me = await api.request('GET', '/api/v1/users/me', { token: users.member.token });
    expect(me.json).toEqual({ id: users.member.id, username: users.member.username, role: 'member' });
  });

  it('creates a user with a first token that works at once, shown once in the 201', async () => {
    const created = await api.request('POST', '/api/v1/users', {
      token: users.admin.token,
      body: { username: 'new.user', role: 'member' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      user: {
        id: expect.any(String),
        username: 'new.user',
        role: 'member',
        created_at: expect.any(String),
        disabled: false,
        disabled_at: null,
        has_password: false,
      },
      token: expect.stringMatching(/^chatd_/),
    });
    const me = await api.request('GET', '/api/v1/users/me', { token: created.json.token });
    expect(me.json).toMatchObject({ username: 'new.user', role: 'member' });
  });

  it('answers a taken username with 409 and a bad one with 400', async () => {
    await api.request('POST', '/api/v1/users', {
      token: users.admin.token,
      body: { username: 'taken', role: 'member' },
    });
    const duplicate = await api.request('POST', '/api/v1/users', {
      token: users.admin.token,
      body: { username: 'TAKEN', role: 'admin' },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json.error.code).toBe('E_CONFLICT');
    const bad = await api.request('POST', '/api/v1/users', {
      token: users.admin.token,
      body: { username: 'has space', role: 'member' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('username');
    const role = await api.request('POST', '/api/v1/users', {
      token: users.admin.token,
      body: { username: 'x', role: 'owner' },
    });
    expect(role.status).toBe(400);
    expect(role.json.error.message).toContain('role');
  });
});

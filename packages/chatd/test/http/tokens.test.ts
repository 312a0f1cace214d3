import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LIVE_TOKENS_PER_USER, TOKEN_PREFIX } from '../../src/auth/api-tokens.js';
import { parseCredential } from '../../src/auth/secret-credentials.js';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUser, logIn, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';

/** Named tokens with expiry and last use, managed by their owner and by admins. */
const db = useTestDatabase();
let api: TestApi;
let admin: TestUser;

beforeAll(async () => {
  api = await startTestApi(db.store);
  admin = await createTestUser(db.store, 'admin');
});
afterAll(() => api?.close());

describe('API tokens', () => {
  it('are created with a name and an optional expiry, shown once, and listed without the secret', async () => {
    const person = await createTestUser(db.store, 'member', 'tokens');
    const created = await api.request('POST', '/api/v1/users/me/tokens', {
      token: person.token,
      body: { name: 'laptop', expires_in: '30d' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(String),
      name: 'laptop',
      token: expect.stringMatching(/^chatd_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/),
      created_at: expect.any(String),
      expires_at: expect.any(String),
    });
    const lifetime = Date.parse(created.json.expires_at) - Date.parse(created.json.created_at);
    expect(Math.abs(lifetime - 30 * 86_400_000)).toBeLessThan(60_000);
    expect(created.headers.get('cache-control')).toBe('no-store');

    const withSeconds = await api.request('POST', '/api/v1/users/me/tokens', {
      token: person.token,
      body: { name: 'ci', expires_in: 3600 },
    });
    expect(withSeconds.status).toBe(201);

    // The new token works at once and its use is recorded.
    expect((await api.request('GET', '/api/v1/users/me', { token: created.json.token })).status).toBe(200);
    const list = await api.request('GET', '/api/v1/users/me/tokens', { token: person.token });
    expect(list.status).toBe(200);
    expect(list.json.tokens.map((t: { name: string }) => t.name)).toEqual(['default', 'laptop', 'ci']);
    const laptop = list.json.tokens.find((t: { name: string }) => t.name === 'laptop');
    expect(Object.keys(laptop).sort()).toEqual(['created_at', 'expires_at', 'id', 'last_used_at', 'name']);
    expect(laptop.last_used_at).toEqual(expect.any(String));
    // The secret is base64url, so it may itself hold `_`: parse it, do not split on it.
    expect(list.text).not.toContain(parseCredential(TOKEN_PREFIX, created.json.token)!.secret);
  });

  it('refuse bad names and lifetimes', async () => {
    const person = await createTestUser(db.store, 'member', 'badtokens');
    for (const body of [
      { name: '' },
      { name: 'x', expires_in: 0 },
      { name: 'x', expires_in: '5y' },
      { name: 'x', expires_in: 30 },
      { name: 'x', expires_in: '99999d' },
      { name: 'x', extra: 1 },
    ]) {
      const answer = await api.request('POST', '/api/v1/users/me/tokens', { token: person.token, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('revoked: refused on the next request; another user cannot revoke or see it', async () => {
    const person = await createTestUser(db.store, 'member', 'revoker');
    const stranger = await createTestUser(db.store, 'member', 'stranger');
    const created = await api.request('POST', '/api/v1/users/me/tokens', {
      token: person.token,
      body: { name: 'temp' },
    });
    const { id, token } = created.json;
    const byStranger = await api.request('DELETE', `/api/v1/users/me/tokens/${id}`, {
      token: stranger.token,
    });
    expect(byStranger.status).toBe(404);
    expect((await api.request('GET', '/api/v1/users/me', { token })).status).toBe(200);

    expect(
      (await api.request('DELETE', `/api/v1/users/me/tokens/${id}`, { token: person.token })).status,
    ).toBe(204);
    expect((await api.request('GET', '/api/v1/users/me', { token })).status).toBe(401);
    expect(
      (await api.request('DELETE', `/api/v1/users/me/tokens/${id}`, { token: person.token })).status,
    ).toBe(404);
  });

  it('expired: refused like an unknown token, still listed for its owner', async () => {
    const person = await createTestUser(db.store, 'member', 'expiring');
    const created = await api.request('POST', '/api/v1/users/me/tokens', {
      token: person.token,
      body: { name: 'short', expires_in: '1m' },
    });
    expect((await api.request('GET', '/api/v1/users/me', { token: created.json.token })).status).toBe(200);
    await db.sql`
      UPDATE api_tokens SET created_at = now() - interval '2 minutes', expires_at = now() - interval '1 second'
      WHERE id = ${created.json.id}`;
    const refused = await api.request('GET', '/api/v1/users/me', { token: created.json.token });
    expect(refused.status).toBe(401);
    expect(refused.json.error.code).toBe('E_UNAUTHORIZED');
    const list = await api.request('GET', '/api/v1/users/me/tokens', { token: person.token });
    expect(list.json.tokens.map((t: { id: string }) => t.id)).toContain(created.json.id);
  });

  it('admins list and revoke anyone’s tokens; members cannot', async () => {
    const person = await createTestUser(db.store, 'member', 'managed');
    const listed = await api.request('GET', `/api/v1/users/${person.id}/tokens`, { token: admin.token });
    expect(listed.status).toBe(200);
    const [only] = listed.json.tokens;
    expect(only.name).toBe('default');
    const byMember = await api.request('GET', `/api/v1/users/${person.id}/tokens`, { token: person.token });
    expect(byMember.status).toBe(403);
    const wrongOwner = await api.request('DELETE', `/api/v1/users/${admin.id}/tokens/${only.id}`, {
      token: admin.token,
    });
    expect(wrongOwner.status).toBe(404);
    const revoked = await api.request('DELETE', `/api/v1/users/${person.id}/tokens/${only.id}`, {
      token: admin.token,
    });
    expect(revoked.status).toBe(204);
    expect((await api.request('GET', '/api/v1/users/me', { token: person.token })).status).toBe(401);
    const unknownUser = await api.request(
      'GET',
      '/api/v1/users/00000000-0000-4000-8000-000000000000/tokens',
      {
        token: admin.token,
      },
    );
    expect(unknownUser.status).toBe(404);
  });

  it('a session can create tokens (with its CSRF token), and a user holds at most the cap', async () => {
    const person = await createTestUser(db.store, 'member', 'capped', { withPassword: true });
    const session = await logIn(api.url, person.username);
    const viaSession = await api.request('POST', '/api/v1/users/me/tokens', {
      headers: session.headers,
      body: { name: 'from the browser' },
    });
    expect(viaSession.status).toBe(201);
    await db.sql`
      INSERT INTO api_tokens (user_id, public_id, name, secret_hash)
      SELECT ${person.id}, lpad(g::text, 12, 'p'), 'bulk', sha256(g::text::bytea)
      FROM generate_series(1, ${MAX_LIVE_TOKENS_PER_USER - 2}) AS g`;
    const over = await api.request('POST', '/api/v1/users/me/tokens', {
      token: person.token,
      body: { name: 'one more' },
    });
    expect(over.status).toBe(409);
    expect(over.json.error.message).toContain(`at most ${MAX_LIVE_TOKENS_PER_USER}`);
  });
});

describe('users (admin)', () => {
  it('lists users in pages by username, every user once', async () => {
    for (let i = 0; i < 7; i++) await createTestUser(db.store, 'member', `paged${i}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3';
      const page = await api.request('GET', `/api/v1/users${query}`, { token: admin.token });
      expect(page.status).toBe(200);
      expect(page.json.users.length).toBeLessThanOrEqual(3);
      seen.push(...page.json.users.map((u: { username: string }) => u.username));
      cursor = page.json.next_cursor;
      pages += 1;
    } while (cursor && pages < 100);
    const [{ count }] = await db.sql<[{ count: number }]>`SELECT count(*)::int AS count FROM users`;
    expect(seen).toHaveLength(count);
    expect(new Set(seen).size).toBe(count);
    expect(seen).toEqual([...seen].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    const bad = await api.request('GET', '/api/v1/users?cursor=%%%', { token: admin.token });
    expect(bad.status).toBe(400);
  });

  it('changes roles, and a promoted member is an admin on the next request', async () => {
    const person = await createTestUser(db.store, 'member', 'promoted');
    expect((await api.request('GET', '/api/v1/chat/providers', { token: person.token })).status).toBe(403);
    const changed = await api.request('PATCH', `/api/v1/users/${person.id}`, {
      token: admin.token,
      body: { role: 'admin' },
    });
    expect(changed.json).toMatchObject({ role: 'admin', disabled: false });
    expect((await api.request('GET', '/api/v1/chat/providers', { token: person.token })).status).toBe(200);
    const empty = await api.request('PATCH', `/api/v1/users/${person.id}`, { token: admin.token, body: {} });
    expect(empty.status).toBe(400);
  });

  it('creates users with a password they can log in with', async () => {
    const created = await api.request('POST', '/api/v1/users', {
      token: admin.token,
      body: { username: 'with-password', role: 'member', password: 'a long enough secret' },
    });
    expect(created.status).toBe(201);
    expect(created.json.user.has_password).toBe(true);
    await logIn(api.url, 'with-password', 'a long enough secret');
    const weak = await api.request('POST', '/api/v1/users', {
      token: admin.token,
      body: { username: 'weak-password', role: 'member', password: 'short' },
    });
    expect(weak.status).toBe(400);
  });
});

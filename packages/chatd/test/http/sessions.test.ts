import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/test-database.js';
import {
  createTestUser,
  logIn,
  seedModelConfig,
  startTestApi,
  TEST_PASSWORD,
  type TestApi,
  type TestUser,
} from './support/api-harness.js';

/**
 * Password login and browser sessions over real HTTP and a real PostgreSQL: the cookie, CSRF, logout,
 * expiry, throttling, disabled users and password changes.
 */
const db = useTestDatabase();
let api: TestApi;
let admin: TestUser;
let member: TestUser;

beforeAll(async () => {
  api = await startTestApi(db.store, {
    auth: { loginThrottle: { maxFailuresPerUser: 3, maxFailuresPerAddress: 8, windowMs: 60_000 } },
  });
  admin = await createTestUser(db.store, 'admin', 'admin', { withPassword: true });
  member = await createTestUser(db.store, 'member', 'member', { withPassword: true });
  await seedModelConfig(db.store).then(
    ({ modelConfigId }) =>
      db.sql`UPDATE chat_model_configs SET is_default = true WHERE id = ${modelConfigId}`,
  );
});
afterAll(() => api?.close());
// Every test starts with no failed login counted (they all come from 127.0.0.1).
beforeEach(async () => {
  await db.sql`DELETE FROM login_failures`;
});

async function login(username: string, password: string) {
  return api.request('POST', '/api/v1/auth/login', { body: { username, password } });
}

describe('password login', () => {
  it('sets an HttpOnly, SameSite session cookie and returns the user and a CSRF token', async () => {
    const response = await login(member.username, TEST_PASSWORD);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      user: expect.objectContaining({
        id: member.id,
        username: member.username,
        role: 'member',
        has_password: true,
      }),
      csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_at: expect.any(String),
    });
    expect(response.text).not.toMatch(/scrypt|password_hash/);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^chatd_session=chatds_[a-z0-9]{12}_[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Lax/i);
    expect(cookie).toMatch(/; Path=\//i);
    // Plain HTTP without --secure-cookies: a Secure cookie would never come back.
    expect(cookie).not.toMatch(/; Secure/i);
    expect(response.headers.get('cache-control')).toBe('no-store');

    const session = { cookie: cookie.split(';', 1)[0]! };
    const me = await api.request('GET', '/api/v1/users/me', { headers: { cookie: session.cookie } });
    expect(me.json).toEqual({ id: member.id, username: member.username, role: 'member' });
    const current = await api.request('GET', '/api/v1/auth/session', { headers: { cookie: session.cookie } });
    expect(current.json).toMatchObject({ csrf_token: response.json.csrf_token, user: { id: member.id } });
  });

  it('marks the cookie Secure with the secureCookies option', async () => {
    const secure = await startTestApi(db.store, { secureCookies: true });
    try {
      const response = await secure.request('POST', '/api/v1/auth/login', {
        body: { username: member.username, password: TEST_PASSWORD },
      });
      expect(response.headers.get('set-cookie')).toMatch(/; Secure/i);
    } finally {
      await secure.close();
    }
  });

  it('answers a wrong password, an unknown user and a user without a password alike', async () => {
    const tokenOnly = await createTestUser(db.store, 'member', 'tokenonly');
    const answers = [
      await login(member.username, 'wrong password!'),
      await login('nobody-by-this-name', TEST_PASSWORD),
      await login(tokenOnly.username, TEST_PASSWORD),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({
        error: { code: 'E_UNAUTHORIZED', message: 'wrong username or password' },
      });
      expect(answer.headers.get('set-cookie')).toBeNull();
    }
  });

  it('takes as long for an unknown user as for a wrong password (a key is derived either way)', async () => {
    // A cost high enough that the derivation dominates a request (16 MiB, some ms), in its own app.
    const slow = await startTestApi(db.store, {
      auth: {
        passwords: { logN: 14 },
        loginThrottle: { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 },
      },
    });
    const known = await createTestUser(db.store, 'member', 'timed');
    await slow.request('PUT', `/api/v1/users/${known.id}/password`, {
      token: admin.token,
      body: { password: TEST_PASSWORD },
    });
    const time = async (username: string) => {
      const started = process.hrtime.bigint();
      const answer = await slow.request('POST', '/api/v1/auth/login', {
        body: { username, password: 'not it at all' },
      });
      expect(answer.status).toBe(401);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    try {
      const knownTimes: number[] = [];
      const unknownTimes: number[] = [];
      // Interleaved, so that the machine's noise hits both alike.
      for (let i = 0; i < 8; i++) {
        knownTimes.push(await time(known.username));
        unknownTimes.push(await time(`ghost-${i}`));
      }
      const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
      // Without the decoy derivation an unknown user answers in a fraction of the time.
      expect(median(unknownTimes) / median(knownTimes)).toBeGreaterThan(0.6);
      expect(median(unknownTimes) / median(knownTimes)).toBeLessThan(1.6);
    } finally {
      await slow.close();
    }
  });

  it('refuses a username after too many failures with 429 and Retry-After, whatever the password', async () => {
    for (let i = 0; i < 3; i++)
      expect((await login(member.username, `wrong-${i}-password`)).status).toBe(401);
    const locked = await login(member.username, TEST_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('E_RATE_LIMITED');
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The lockout is per username (the username is matched case-insensitively).
    expect((await login(member.username.toUpperCase(), TEST_PASSWORD)).status).toBe(429);
    expect((await login(admin.username, TEST_PASSWORD)).status).toBe(200);
  });

  it('a successful login clears its username counter', async () => {
    for (let i = 0; i < 2; i++) await login(member.username, 'wrong password!');
    expect((await login(member.username, TEST_PASSWORD)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await login(member.username, 'wrong password!')).status).toBe(401);
    expect((await login(member.username, TEST_PASSWORD)).status).toBe(200);
  });

  it('refuses an address after too many failures across usernames', async () => {
    for (let i = 0; i < 8; i++) expect((await login(`spray-${i}`, 'wrong password!')).status).toBe(401);
    const locked = await login(member.username, TEST_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
    // Counted in the database: another replica (another app on the same database) refuses too.
    const other = await startTestApi(db.store, {
      auth: { loginThrottle: { maxFailuresPerUser: 3, maxFailuresPerAddress: 8, windowMs: 60_000 } },
    });
    try {
      const elsewhere = await other.request('POST', '/api/v1/auth/login', {
        body: { username: member.username, password: TEST_PASSWORD },
      });
      expect(elsewhere.status).toBe(429);
    } finally {
      await other.close();
    }
  });

  it('believes X-Forwarded-For and -Proto only from a trusted proxy', async () => {
    const behindProxy = await startTestApi(db.store, {
      http: { trustProxy: '127.0.0.1' },
      auth: { loginThrottle: { maxFailuresPerUser: 100, maxFailuresPerAddress: 2, windowMs: 60_000 } },
    });
    const direct = await startTestApi(db.store, {
      auth: { loginThrottle: { maxFailuresPerUser: 100, maxFailuresPerAddress: 2, windowMs: 60_000 } },
    });
    const attempt = (app: TestApi, forwardedFor: string, password = 'wrong password!') =>
      app.request('POST', '/api/v1/auth/login', {
        headers: { 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https' },
        body: { username: member.username, password },
      });
    try {
      // Behind the trusted proxy, each client address has its own count, and HTTPS makes the cookie Secure.
      for (let i = 0; i < 2; i++) await attempt(behindProxy, '198.51.100.7');
      expect((await attempt(behindProxy, '198.51.100.7', TEST_PASSWORD)).status).toBe(429);
      const other = await attempt(behindProxy, '198.51.100.8', TEST_PASSWORD);
      expect(other.status).toBe(200);
      expect(other.headers.get('set-cookie')).toMatch(/; Secure/i);
      // Without it, the headers are ignored: a client cannot pick a fresh address for every guess.
      await db.sql`DELETE FROM login_failures`;
      for (let i = 0; i < 2; i++) await attempt(direct, `203.0.113.${i}`);
      expect((await attempt(direct, '203.0.113.99', TEST_PASSWORD)).status).toBe(429);
    } finally {
      await behindProxy.close();
      await direct.close();
    }
  });

  it('validates the body without echoing the password', async () => {
    const response = await api.request('POST', '/api/v1/auth/login', {
      body: { username: member.username, password: 'hunter2hunter2', extra: true },
    });
    expect(response.status).toBe(400);
    expect(response.text).not.toContain('hunter2');
    expect(api.logs.join('')).not.toContain('hunter2hunter2');
  });
});

describe('CSRF', () => {
  it('refuses a cookie-authenticated unsafe request without the right X-CSRF-Token, and accepts it with', async () => {
    const session = await logIn(api.url, member.username);
    const create = (headers: Record<string, string>) =>
      api.request('POST', '/api/v1/chats', { headers, body: { content: 'hello' } });

    const missing = await create({ cookie: session.cookie });
    expect(missing.status).toBe(403);
    expect(missing.json.error.code).toBe('E_CSRF');
    const wrong = await create({
      cookie: session.cookie,
      // The last character changed (to one it is not: an unchanged token would be accepted).
      'x-csrf-token': `${session.csrfToken.slice(0, -1)}${session.csrfToken.endsWith('A') ? 'B' : 'A'}`,
    });
    expect(wrong.status).toBe(403);
    const otherSession = await logIn(api.url, member.username);
    const crossed = await create({ cookie: session.cookie, 'x-csrf-token': otherSession.csrfToken });
    expect(crossed.status).toBe(403);
    // Refused before anything happened: no chat was created by the refused requests.
    const [{ count }] = await db.sql<[{ count: number }]>`
      SELECT count(*)::int AS count FROM chats WHERE owner_id = ${member.id}`;
    expect(count).toBe(0);

    expect((await create(session.headers)).status).toBe(201);
    // Safe methods need none.
    expect((await api.request('GET', '/api/v1/chats', { headers: { cookie: session.cookie } })).status).toBe(
      200,
    );
    const [chat] = await db.sql<[{ id: string }]>`SELECT id FROM chats WHERE owner_id = ${member.id} LIMIT 1`;
    const unsafe: Array<[string, string, unknown]> = [
      ['PUT', '/api/v1/chat/config/user-prompt', { custom_prompt: 'x' }],
      ['PATCH', `/api/v1/users/${member.id}`, { role: 'admin' }],
      ['DELETE', `/api/v1/users/me/tokens/${member.id}`, undefined],
      ['POST', `/api/v1/chats/${chat.id}/archive`, undefined],
    ];
    for (const [method, path, body] of unsafe) {
      const answer = await api.request(method, path, { headers: { cookie: session.cookie }, body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.json.error.code).toBe('E_CSRF');
    }
  });

  it('needs no CSRF token with a bearer token, and judges a request with Authorization by it alone', async () => {
    const session = await logIn(api.url, member.username);
    const bearer = await api.request('POST', '/api/v1/chats', {
      token: member.token,
      body: { content: 'hi' },
    });
    expect(bearer.status).toBe(201);
    const badBearerGoodCookie = await api.request('GET', '/api/v1/users/me', {
      headers: {
        cookie: session.cookie,
        authorization: 'Bearer chatd_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      },
    });
    expect(badBearerGoodCookie.status).toBe(401);
  });
});

describe('sessions', () => {
  it('logout ends the session and clears the cookie', async () => {
    const session = await logIn(api.url, member.username);
    const noCsrf = await api.request('POST', '/api/v1/auth/logout', { headers: { cookie: session.cookie } });
    expect(noCsrf.status).toBe(403);
    const out = await api.request('POST', '/api/v1/auth/logout', { headers: session.headers });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^chatd_session=; Max-Age=0;/);
    const after = await api.request('GET', '/api/v1/users/me', { headers: { cookie: session.cookie } });
    expect(after.status).toBe(401);
    // A token cannot "log out": it is revoked instead.
    const withToken = await api.request('POST', '/api/v1/auth/logout', { token: member.token });
    expect(withToken.status).toBe(400);
  });

  it('ends a session idle past the idle timeout, and any session past its absolute expiry', async () => {
    const idle = await logIn(api.url, member.username);
    const old = await logIn(api.url, member.username);
    const publicIdOf = (session: { cookie: string }) => session.cookie.split('_')[2]!;
    await db.sql`UPDATE user_sessions SET last_seen_at = now() - interval '8 days' WHERE public_id = ${publicIdOf(idle)}`;
    await db.sql`
      UPDATE user_sessions SET created_at = now() - interval '31 days', expires_at = now() - interval '1 day'
      WHERE public_id = ${publicIdOf(old)}`;
    for (const session of [idle, old]) {
      const me = await api.request('GET', '/api/v1/users/me', { headers: { cookie: session.cookie } });
      expect(me.status).toBe(401);
    }
    // Housekeeping deletes them.
    expect(await api.deps.sessions.deleteExpired()).toBeGreaterThanOrEqual(2);
  });

  it('stores sessions hashed: the cookie secret is nowhere in the database', async () => {
    const session = await logIn(api.url, member.username);
    const secret = session.cookie.split('_').slice(3).join('_');
    const [dump] = await db.sql<
      [{ text: string }]
    >`SELECT string_agg(s::text, ' ') AS text FROM user_sessions s`;
    expect(dump.text).not.toContain(secret);
    expect(dump.text).not.toContain(session.csrfToken);
    const [users] = await db.sql<[{ text: string }]>`SELECT string_agg(u::text, ' ') AS text FROM users u`;
    expect(users.text).not.toContain(TEST_PASSWORD);
    expect(users.text).toContain('$scrypt$ln=10,r=8,p=1$');
    // Nor in the logs (written at level trace: everything), after a request that carries both.
    await api.request('POST', '/api/v1/chats', { headers: session.headers, body: { content: 'logged?' } });
    const logs = api.logs.join('');
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(session.csrfToken);
    expect(logs).not.toContain(TEST_PASSWORD);
  });
});

describe('disabled users', () => {
  it('lose their sessions and tokens at once and cannot log in; enabled again they can', async () => {
    const person = await createTestUser(db.store, 'member', 'leaver', { withPassword: true });
    const session = await logIn(api.url, person.username);
    const disabled = await api.request('PATCH', `/api/v1/users/${person.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.json).toMatchObject({ disabled: true, disabled_at: expect.any(String) });
    expect(
      (await api.request('GET', '/api/v1/users/me', { headers: { cookie: session.cookie } })).status,
    ).toBe(401);
    expect((await api.request('GET', '/api/v1/users/me', { token: person.token })).status).toBe(401);
    expect((await login(person.username, TEST_PASSWORD)).status).toBe(401);
    const [{ sessions, tokens }] = await db.sql<[{ sessions: number; tokens: number }]>`
      SELECT (SELECT count(*)::int FROM user_sessions WHERE user_id = ${person.id}) AS sessions,
             (SELECT count(*)::int FROM api_tokens WHERE user_id = ${person.id}) AS tokens`;
    expect({ sessions, tokens }).toEqual({ sessions: 0, tokens: 0 });

    await api.request('PATCH', `/api/v1/users/${person.id}`, {
      token: admin.token,
      body: { disabled: false },
    });
    expect((await login(person.username, TEST_PASSWORD)).status).toBe(200);
  });

  it('keep the last enabled admin: it can be neither disabled nor demoted, and nobody disables themselves', async () => {
    const own = await api.request('PATCH', `/api/v1/users/${admin.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(own.status).toBe(409);
    // Every other admin of this database is disabled first, so that `admin` is the last one.
    await db.sql`UPDATE users SET disabled_at = now() WHERE role = 'admin' AND id <> ${admin.id}`;
    const second = await createTestUser(db.store, 'admin', 'second-admin');
    const demoteSecond = await api.request('PATCH', `/api/v1/users/${second.id}`, {
      token: admin.token,
      body: { role: 'member' },
    });
    expect(demoteSecond.status).toBe(200);
    const demoteLast = await api.request('PATCH', `/api/v1/users/${admin.id}`, {
      token: admin.token,
      body: { role: 'member' },
    });
    expect(demoteLast.status).toBe(409);
    expect(demoteLast.json.error.message).toContain('last enabled admin');
  });
});

describe('passwords', () => {
  it('enforce a minimum length and accept long passphrases', async () => {
    const person = await createTestUser(db.store, 'member', 'pw');
    const set = (password: string) =>
      api.request('PUT', '/api/v1/users/me/password', { token: person.token, body: { password } });
    const short = await set('short');
    expect(short.status).toBe(400);
    expect(short.json.error.message).toContain('at least 10 characters');
    expect(short.text).not.toContain('short"');
    const long = 'ü'.repeat(200);
    expect((await set(long)).status).toBe(204);
    expect((await login(person.username, long)).status).toBe(200);
    expect((await set('x'.repeat(1025))).status).toBe(400);
  });

  it('a change needs the current password and ends the other sessions, keeping the one in use', async () => {
    const person = await createTestUser(db.store, 'member', 'changer', { withPassword: true });
    const here = await logIn(api.url, person.username);
    const elsewhere = await logIn(api.url, person.username);
    const change = (body: object) =>
      api.request('PUT', '/api/v1/users/me/password', { headers: here.headers, body });
    expect((await change({ password: 'a new password 1' })).status).toBe(400);
    expect(
      (await change({ password: 'a new password 1', current_password: 'not the password' })).status,
    ).toBe(403);
    expect((await change({ password: 'a new password 1', current_password: TEST_PASSWORD })).status).toBe(
      204,
    );
    expect((await api.request('GET', '/api/v1/users/me', { headers: { cookie: here.cookie } })).status).toBe(
      200,
    );
    expect(
      (await api.request('GET', '/api/v1/users/me', { headers: { cookie: elsewhere.cookie } })).status,
    ).toBe(401);
    expect((await login(person.username, TEST_PASSWORD)).status).toBe(401);
    expect((await login(person.username, 'a new password 1')).status).toBe(200);
  });

  it('an admin reset ends every session of the user', async () => {
    const person = await createTestUser(db.store, 'member', 'forgetful', { withPassword: true });
    const session = await logIn(api.url, person.username);
    const reset = await api.request('PUT', `/api/v1/users/${person.id}/password`, {
      token: admin.token,
      body: { password: 'reset by the admin' },
    });
    expect(reset.status).toBe(204);
    expect(
      (await api.request('GET', '/api/v1/users/me', { headers: { cookie: session.cookie } })).status,
    ).toBe(401);
    expect((await login(person.username, 'reset by the admin')).status).toBe(200);
    const unknown = await api.request('PUT', '/api/v1/users/00000000-0000-4000-8000-000000000000/password', {
      token: admin.token,
      body: { password: 'reset by the admin' },
    });
    expect(unknown.status).toBe(404);
  });
});

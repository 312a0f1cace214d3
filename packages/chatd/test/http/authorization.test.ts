import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../src/auth/api-tokens.js';
import { PasswordHasher } from '../../src/auth/passwords.js';
import { useTestDatabase } from '../support/test-database.js';
import {
  createTestUser,
  createTestUsers,
  logIn,
  seedModelConfig,
  startTestApi,
  TEST_PASSWORD,
  TEST_PASSWORD_COST,
  type TestApi,
  type TestUser,
} from './support/api-harness.js';

/**
 * The authorization matrix: every route × every kind of caller, with the exact status expected. Routes are
 * collected from the running app, so a route added without a row here fails the coverage test.
 */
const db = useTestDatabase();
let api: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };
const registeredRoutes = new Set<string>();

beforeAll(async () => {
  api = await startTestApi(db.store, {
    beforeListen: (app) =>
      app.addHook('onRoute', (route) => {
        for (const method of [route.method].flat()) {
          if (method !== 'HEAD' && route.url.startsWith('/api/v1/'))
            registeredRoutes.add(`${method} ${route.url}`);
        }
      }),
  });
  users = await createTestUsers(db.store);
  // The member can log in too: the `session` caller is the member with a fresh login session.
  await db.store.setUserPasswordHash(
    users.member.id,
    await new PasswordHasher(TEST_PASSWORD_COST).hash(TEST_PASSWORD),
  );
  const doomed = await issueApiToken(db.store, users.member.id, 'to be revoked');
  await db.store.deleteApiTokenOfUser(users.member.id, doomed.id);
  revokedToken = doomed.token;
  const old = await logIn(api.url, users.member.username);
  await db.sql`
    UPDATE user_sessions SET created_at = now() - interval '40 days', expires_at = now() - interval '10 days'
    WHERE public_id = ${old.cookie.split('_')[2]!}`;
  expiredSessionCookie = old.cookie;
});
afterAll(() => api?.close());

let revokedToken: string;
let expiredSessionCookie: string;

/**
 * Who calls: nobody, a malformed token, the member (owner of the chats under test), another member, an
 * admin, the member's revoked token, the member's expired session, and the member on a fresh login
 * session (cookie and CSRF token).
 */
const CALLERS = ['none', 'invalid', 'member', 'other', 'admin', 'revoked', 'expired', 'session'] as const;
type Caller = (typeof CALLERS)[number];

interface Row {
  readonly method: string;
  /** The route as registered. */
  readonly route: string;
  /** Builds a fresh target for one cell (so that deletes and archives do not interfere). */
  readonly setup: () => Promise<{ path: string; body?: unknown }>;
  readonly expected: Readonly<Record<Caller, number>>;
}

/** Credentials that do not authenticate, answered 401 by every route that needs one. */
const refused = { none: 401, invalid: 401, revoked: 401, expired: 401 } as const;
const anyone = (ok: number) => ({
  none: ok,
  invalid: ok,
  member: ok,
  other: ok,
  admin: ok,
  revoked: ok,
  expired: ok,
  session: ok,
});
const anyUser = (ok: number) => ({ ...refused, member: ok, other: ok, admin: ok, session: ok });
const adminOnly = (ok: number) => ({ ...refused, member: 403, other: 403, admin: ok, session: 403 });
/** The thing belongs to `member`: everyone else, admins included, is told it does not exist. */
const ownerOnly = (ok: number) => ({ ...refused, member: ok, other: 404, admin: 404, session: ok });

async function newProviderId(): Promise<string> {
  return (await seedModelConfig(db.store)).providerId;
}
async function newModelConfigId(): Promise<string> {
  return (await seedModelConfig(db.store)).modelConfigId;
}
async function newChatOfMember(): Promise<string> {
  const chat = await db.store.insertChat({
    ownerId: users.member.id,
    title: 't',
    status: 'waiting',
    modelConfigId: null,
  });
  return chat.id;
}
let usernameSequence = 0;
async function newTokenOfMember(): Promise<string> {
  return (await issueApiToken(db.store, users.member.id, 'matrix')).id;
}
async function newUserId(): Promise<string> {
  return (await createTestUser(db.store, 'member', 'target')).id;
}

const ROWS: readonly Row[] = [
  { method: 'GET', route: '/healthz', setup: async () => ({ path: '/healthz' }), expected: anyone(200) },
  {
    method: 'GET',
    route: '/api/v1/openapi.json',
    setup: async () => ({ path: '/api/v1/openapi.json' }),
    expected: anyone(200),
  },
  {
    method: 'POST',
    route: '/api/v1/auth/login',
    setup: async () => ({
      path: '/api/v1/auth/login',
      body: { username: users.member.username, password: TEST_PASSWORD },
    }),
    expected: anyone(200),
  },
  {
    method: 'POST',
    route: '/api/v1/auth/logout',
    setup: async () => ({ path: '/api/v1/auth/logout' }),
    // Only a session can log out; a token is revoked instead.
    expected: { ...refused, member: 400, other: 400, admin: 400, session: 204 },
  },
  {
    method: 'GET',
    route: '/api/v1/auth/session',
    setup: async () => ({ path: '/api/v1/auth/session' }),
    expected: anyUser(200),
  },
  {
    method: 'PUT',
    route: '/api/v1/users/me/password',
    // The same password again: the member keeps the one the other cells log in with.
    setup: async () => ({
      path: '/api/v1/users/me/password',
      body: { password: TEST_PASSWORD, current_password: TEST_PASSWORD },
    }),
    // The other member and the admin have no password yet: current_password is not checked, and they get one.
    expected: anyUser(204),
  },
  {
    method: 'GET',
    route: '/api/v1/users/me/tokens',
    setup: async () => ({ path: '/api/v1/users/me/tokens' }),
    expected: anyUser(200),
  },
  {
    method: 'POST',
    route: '/api/v1/users/me/tokens',
    setup: async () => ({ path: '/api/v1/users/me/tokens', body: { name: 'matrix', expires_in: '1d' } }),
    expected: anyUser(201),
  },
  {
    method: 'DELETE',
    route: '/api/v1/users/me/tokens/:id',
    setup: async () => ({ path: `/api/v1/users/me/tokens/${await newTokenOfMember()}` }),
    expected: ownerOnly(204),
  },
  {
    method: 'GET',
    route: '/api/v1/users',
    setup: async () => ({ path: '/api/v1/users?limit=5' }),
    expected: adminOnly(200),
  },
  {
    method: 'PATCH',
    route: '/api/v1/users/:id',
    setup: async () => ({ path: `/api/v1/users/${await newUserId()}`, body: { role: 'member' } }),
    expected: adminOnly(200),
  },
  {
    method: 'PUT',
    route: '/api/v1/users/:id/password',
    setup: async () => ({
      path: `/api/v1/users/${await newUserId()}/password`,
      body: { password: TEST_PASSWORD },
    }),
    expected: adminOnly(204),
  },
  {
    method: 'GET',
    route: '/api/v1/users/:id/tokens',
    setup: async () => ({ path: `/api/v1/users/${users.member.id}/tokens` }),
    expected: adminOnly(200),
  },
  {
    method: 'DELETE',
    route: '/api/v1/users/:id/tokens/:token_id',
    setup: async () => ({ path: `/api/v1/users/${users.member.id}/tokens/${await newTokenOfMember()}` }),
    expected: adminOnly(204),
  },
  {
    method: 'GET',
    route: '/api/v1/users/me',
    setup: async () => ({ path: '/api/v1/users/me' }),
    expected: anyUser(200),
  },
  {
    method: 'POST',
    route: '/api/v1/users',
    setup: async () => ({
      path: '/api/v1/users',
      body: { username: `matrix-${++usernameSequence}`, role: 'member' },
    }),
    expected: adminOnly(201),
  },
  {
    method: 'GET',
    route: '/api/v1/chat/providers',
    setup: async () => ({ path: '/api/v1/chat/providers' }),
    expected: adminOnly(200),
  },
  {
    method: 'POST',
    route: '/api/v1/chat/providers',
    setup: async () => ({ path: '/api/v1/chat/providers', body: { provider: 'builtin', display_name: 'B' } }),
    expected: adminOnly(201),
  },
  {
    method: 'PATCH',
    route: '/api/v1/chat/providers/:id',
    setup: async () => ({
      path: `/api/v1/chat/providers/${await newProviderId()}`,
      body: { enabled: false },
    }),
    expected: adminOnly(200),
  },
  {
    method: 'DELETE',
    route: '/api/v1/chat/providers/:id',
    setup: async () => ({ path: `/api/v1/chat/providers/${await newProviderId()}` }),
    expected: adminOnly(204),
  },
  {
    method: 'GET',
    route: '/api/v1/chat/model-configs',
    setup: async () => ({ path: '/api/v1/chat/model-configs' }),
    expected: anyUser(200),
  },
  {
    method: 'POST',
    route: '/api/v1/chat/model-configs',
    setup: async () => ({
      path: '/api/v1/chat/model-configs',
      body: { provider_id: await newProviderId(), model: 'echo', display_name: 'E', context_limit: 100 },
    }),
    expected: adminOnly(201),
  },
  {
    method: 'PATCH',
    route: '/api/v1/chat/model-configs/:id',
    setup: async () => ({
      path: `/api/v1/chat/model-configs/${await newModelConfigId()}`,
      body: { model: 'inspect' },
    }),
    expected: adminOnly(200),
  },
  {
    method: 'DELETE',
    route: '/api/v1/chat/model-configs/:id',
    setup: async () => ({ path: `/api/v1/chat/model-configs/${await newModelConfigId()}` }),
    expected: adminOnly(204),
  },
  {
    method: 'GET',
    route: '/api/v1/chat/config/user-prompt',
    setup: async () => ({ path: '/api/v1/chat/config/user-prompt' }),
    expected: anyUser(200),
  },
  {
    method: 'PUT',
    route: '/api/v1/chat/config/user-prompt',
    setup: async () => ({ path: '/api/v1/chat/config/user-prompt', body: { custom_prompt: 'Be brief.' } }),
    expected: anyUser(200),
  },
  {
    method: 'GET',
    route: '/api/v1/chat/config/system-prompt',
    setup: async () => ({ path: '/api/v1/chat/config/system-prompt' }),
    expected: adminOnly(200),
  },
  {
    method: 'PUT',
    route: '/api/v1/chat/config/system-prompt',
    setup: async () => ({ path: '/api/v1/chat/config/system-prompt', body: { system_prompt: 'You help.' } }),
    expected: adminOnly(200),
  },
  {
    method: 'GET',
    route: '/api/v1/chat/config/status',
    setup: async () => ({ path: '/api/v1/chat/config/status' }),
    expected: adminOnly(200),
  },
  {
    method: 'POST',
    route: '/api/v1/chats',
    setup: async () => ({ path: '/api/v1/chats', body: { content: 'hello' } }),
    expected: anyUser(201),
  },
  {
    method: 'GET',
    route: '/api/v1/chats',
    setup: async () => ({ path: '/api/v1/chats' }),
    expected: anyUser(200),
  },
  {
    method: 'GET',
    route: '/api/v1/chats/:id',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}` }),
    expected: ownerOnly(200),
  },
  {
    method: 'DELETE',
    route: '/api/v1/chats/:id',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}` }),
    expected: ownerOnly(204),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/messages',
    setup: async () => ({
      path: `/api/v1/chats/${await newChatOfMember()}/messages`,
      body: { content: 'more' },
    }),
    expected: ownerOnly(202),
  },
  {
    method: 'GET',
    route: '/api/v1/chats/:id/stream',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}/stream` }),
    expected: ownerOnly(200),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/interrupt',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}/interrupt` }),
    expected: ownerOnly(202),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/retry',
    setup: async () => {
      const chatId = await newChatOfMember();
      await db.sql`UPDATE chats SET status = 'error', last_error = 'failed' WHERE id = ${chatId}`;
      return { path: `/api/v1/chats/${chatId}/retry` };
    },
    expected: ownerOnly(202),
  },
  {
    method: 'PATCH',
    route: '/api/v1/chats/:id',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}`, body: { title: 'Renamed' } }),
    expected: ownerOnly(200),
  },
  {
    method: 'PATCH',
    route: '/api/v1/chats/:id/messages/:message_id',
    setup: async () => {
      const chatId = await newChatOfMember();
      const [message] = await db.sql<[{ id: number }]>`
        INSERT INTO chat_messages (chat_id, role, content) VALUES (${chatId}, 'user', 'q') RETURNING id`;
      return { path: `/api/v1/chats/${chatId}/messages/${message.id}`, body: { content: 'edited' } };
    },
    expected: ownerOnly(202),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/regenerate',
    setup: async () => {
      const chatId = await newChatOfMember();
      await db.sql`
        INSERT INTO chat_messages (chat_id, role, content) VALUES (${chatId}, 'user', 'q');
      `;
      await db.sql`
        INSERT INTO chat_messages (chat_id, role, content, finish_reason, reply_to)
        SELECT ${chatId}, 'assistant', 'a', 'stop', max(id) FROM chat_messages WHERE chat_id = ${chatId}`;
      return { path: `/api/v1/chats/${chatId}/regenerate` };
    },
    expected: ownerOnly(202),
  },
  {
    method: 'GET',
    route: '/api/v1/usage',
    setup: async () => ({ path: '/api/v1/usage?group_by=model_config' }),
    expected: adminOnly(200),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/compact',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}/compact` }),
    expected: ownerOnly(202),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/archive',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}/archive` }),
    expected: ownerOnly(204),
  },
  {
    method: 'POST',
    route: '/api/v1/chats/:id/unarchive',
    setup: async () => ({ path: `/api/v1/chats/${await newChatOfMember()}/unarchive` }),
    expected: ownerOnly(204),
  },
];

const ERROR_CODES: Record<number, string> = {
  400: 'E_INVALID_INPUT',
  401: 'E_UNAUTHORIZED',
  403: 'E_FORBIDDEN',
  404: 'E_NOT_FOUND',
};

/** The headers that make a request come from `caller`. */
async function credentialsOf(caller: Caller): Promise<Record<string, string>> {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  switch (caller) {
    case 'none':
      return {};
    case 'invalid':
      return bearer('chatd_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    case 'revoked':
      return bearer(revokedToken);
    case 'expired':
      // With the expired session's CSRF token unknown, a guess: refused before CSRF is even checked.
      return { cookie: expiredSessionCookie, 'x-csrf-token': 'unknown' };
    case 'session':
      return (await logIn(api.url, users.member.username)).headers;
    default:
      return bearer(users[caller].token);
  }
}

/** Sends the request; a stream is disconnected as soon as its status and headers are in. */
async function call(method: string, path: string, credentials: Record<string, string>, body: unknown) {
  const headers: Record<string, string> = { ...credentials };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const abort = new AbortController();
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: abort.signal,
  });
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.startsWith('text/event-stream')) {
    abort.abort();
    return { status: response.status, headers: response.headers, json: undefined, contentType };
  }
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? JSON.parse(text) : undefined,
    contentType,
  };
}

describe('authorization matrix', () => {
  it('covers every API route', () => {
    const covered = new Set(
      ROWS.filter((row) => row.route.startsWith('/api/v1/')).map((row) => `${row.method} ${row.route}`),
    );
    expect([...registeredRoutes].sort()).toEqual([...covered].sort());
  });

  describe.each(ROWS)('$method $route', (row) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const { path, body } = await row.setup();
      const response = await call(row.method, path, await credentialsOf(caller), body);
      const expected = row.expected[caller];
      expect(response.status, `${row.method} ${path} as ${caller}`).toBe(expected);
      if (expected >= 400) {
        expect(response.json).toEqual({
          error: { code: ERROR_CODES[expected], message: expect.any(String) },
        });
      }
      if (expected === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
      if (row.route.endsWith('/stream') && expected === 200) {
        expect(response.contentType).toMatch(/^text\/event-stream/);
      }
    });
  });
});

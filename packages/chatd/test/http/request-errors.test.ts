import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/test-database.js';
import {
  type ApiResponse,
  createTestUsers,
  seedModelConfig,
  startTestApi,
  type TestApi,
  type TestUser,
} from './support/api-harness.js';

/** Client mistakes are 4xx with the right code, for every route that takes input; never a 500. */
const db = useTestDatabase();
let api: TestApi;
/** The same API with a 4 KiB body limit. */
let small: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };

beforeAll(async () => {
  api = await startTestApi(db.store, {
    beforeListen: (app) => {
      app.get('/test/boom', async () => {
        throw new Error('connection to db://admin:hunter2@internal failed');
      });
    },
  });
  small = await startTestApi(db.store, { bodyLimit: 4096 });
  users = await createTestUsers(db.store);
});
afterAll(async () => {
  await api?.close();
  await small?.close();
});

interface BodyRoute {
  readonly name: string;
  readonly method: string;
  readonly caller: 'admin' | 'member';
  /** A path whose target exists. */
  readonly path: () => Promise<string>;
  /** A body the route accepts. */
  readonly valid: () => Promise<Record<string, unknown>>;
  /** A field and a value of the wrong type for it. */
  readonly wrongType: readonly [string, unknown];
}

async function chatPath(suffix = ''): Promise<string> {
  const chat = await db.store.insertChat({
    ownerId: users.member.id,
    title: 't',
    status: 'waiting',
    modelConfigId: null,
  });
  return `/api/v1/chats/${chat.id}${suffix}`;
}

const BODY_ROUTES: readonly BodyRoute[] = [
  {
    name: 'POST /users',
    method: 'POST',
    caller: 'admin',
    path: async () => '/api/v1/users',
    valid: async () => ({
      username: `u${Date.now()}${Math.random().toString(36).slice(2, 6)}`,
      role: 'member',
    }),
    wrongType: ['role', 7],
  },
  {
    name: 'POST /chat/providers',
    method: 'POST',
    caller: 'admin',
    path: async () => '/api/v1/chat/providers',
    valid: async () => ({ provider: 'builtin', display_name: 'B' }),
    wrongType: ['display_name', 12],
  },
  {
    name: 'PATCH /chat/providers/{id}',
    method: 'PATCH',
    caller: 'admin',
    path: async () => `/api/v1/chat/providers/${(await seedModelConfig(db.store)).providerId}`,
    valid: async () => ({ enabled: true }),
    wrongType: ['enabled', 'yes'],
  },
  {
    name: 'POST /chat/model-configs',
    method: 'POST',
    caller: 'admin',
    path: async () => '/api/v1/chat/model-configs',
    valid: async () => ({
      provider_id: (await seedModelConfig(db.store)).providerId,
      model: 'echo',
      display_name: 'E',
      context_limit: 10,
    }),
    wrongType: ['context_limit', '10'],
  },
  {
    name: 'PATCH /chat/model-configs/{id}',
    method: 'PATCH',
    caller: 'admin',
    path: async () => `/api/v1/chat/model-configs/${(await seedModelConfig(db.store)).modelConfigId}`,
    valid: async () => ({ display_name: 'Renamed' }),
    wrongType: ['options', [1, 2]],
  },
  {
    name: 'PUT /chat/config/user-prompt',
    method: 'PUT',
    caller: 'member',
    path: async () => '/api/v1/chat/config/user-prompt',
    valid: async () => ({ custom_prompt: 'x' }),
    wrongType: ['custom_prompt', null],
  },
  {
    name: 'PUT /chat/config/system-prompt',
    method: 'PUT',
    caller: 'admin',
    path: async () => '/api/v1/chat/config/system-prompt',
    valid: async () => ({ system_prompt: 'x' }),
    wrongType: ['system_prompt', { text: 'x' }],
  },
  {
    name: 'POST /chats',
    method: 'POST',
    caller: 'member',
    path: async () => '/api/v1/chats',
    valid: async () => ({ content: 'hi' }),
    wrongType: ['content', ['hi']],
  },
  {
    name: 'POST /chats/{id}/messages',
    method: 'POST',
    caller: 'member',
    path: () => chatPath('/messages'),
    valid: async () => ({ content: 'hi' }),
    wrongType: ['content', 3],
  },
];

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.json).toEqual({ error: { code, message: expect.any(String) } });
}

describe.each(BODY_ROUTES)('$name', (route) => {
  const send = async (
    init: { rawBody?: string; body?: unknown; headers?: Record<string, string> },
    target = api,
  ) => target.request(route.method, await route.path(), { token: users[route.caller].token, ...init });
  const json = { 'content-type': 'application/json' };

  it('accepts the valid body (the baseline of the cases below)', async () => {
    const response = await send({ body: await route.valid() });
    expect(response.status, response.text).toBeLessThan(300);
  });

  it('answers malformed JSON with 400 E_MALFORMED_JSON', async () => {
    expectError(await send({ rawBody: '{"content": ', headers: json }), 400, 'E_MALFORMED_JSON');
    expectError(await send({ rawBody: '{"a":1}}', headers: json }), 400, 'E_MALFORMED_JSON');
  });

  it('refuses prototype-poisoning keys as malformed', async () => {
    expectError(
      await send({ rawBody: '{"__proto__": {"admin": true}}', headers: json }),
      400,
      'E_MALFORMED_JSON',
    );
  });

  it('refuses unknown fields, naming them', async () => {
    const response = await send({ body: { ...(await route.valid()), surprise: 1 } });
    expectError(response, 400, 'E_INVALID_INPUT');
    expect(response.json.error.message).toContain('"surprise"');
  });

  it('refuses a wrongly typed field, naming it', async () => {
    const [field, value] = route.wrongType;
    const response = await send({ body: { ...(await route.valid()), [field]: value } });
    expectError(response, 400, 'E_INVALID_INPUT');
    expect(response.json.error.message).toContain(field);
  });

  it('refuses bodies that are not JSON objects, or no body', async () => {
    for (const body of [[], 'text', 42, null]) expectError(await send({ body }), 400, 'E_INVALID_INPUT');
    expectError(await send({ rawBody: '', headers: json }), 400, 'E_INVALID_INPUT');
    expectError(await send({}), 400, 'E_INVALID_INPUT');
  });

  it('answers a body that is not JSON with 415 E_UNSUPPORTED_MEDIA_TYPE', async () => {
    const text = { 'content-type': 'text/plain' };
    expectError(
      await send({ rawBody: JSON.stringify(await route.valid()), headers: text }),
      415,
      'E_UNSUPPORTED_MEDIA_TYPE',
    );
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expectError(await send({ rawBody: 'content=hi', headers: form }), 415, 'E_UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a body over the limit with 413 E_TOO_LARGE', async () => {
    const body = { ...(await route.valid()), padding: 'x'.repeat(8192) };
    expectError(await send({ body }, small), 413, 'E_TOO_LARGE');
  });
});

describe('path parameters', () => {
  const ID_ROUTES: readonly [string, string, 'admin' | 'member', unknown][] = [
    ['PATCH', '/api/v1/chat/providers/%s', 'admin', { enabled: true }],
    ['DELETE', '/api/v1/chat/providers/%s', 'admin', undefined],
    ['PATCH', '/api/v1/chat/model-configs/%s', 'admin', { enabled: true }],
    ['DELETE', '/api/v1/chat/model-configs/%s', 'admin', undefined],
    ['GET', '/api/v1/chats/%s', 'member', undefined],
    ['POST', '/api/v1/chats/%s/messages', 'member', { content: 'x' }],
    ['GET', '/api/v1/chats/%s/stream', 'member', undefined],
    ['POST', '/api/v1/chats/%s/interrupt', 'member', undefined],
    ['POST', '/api/v1/chats/%s/archive', 'member', undefined],
    ['POST', '/api/v1/chats/%s/unarchive', 'member', undefined],
  ];

  it.each(ID_ROUTES)(
    '%s %s: a malformed id is 400 naming the parameter; an unknown one is 404',
    async (method, pattern, caller, body) => {
      const token = users[caller].token;
      for (const bad of [
        'not-a-uuid',
        '123',
        "1'; DROP TABLE chats; --",
        '00000000-0000-0000-0000-00000000000g',
      ]) {
        const response = await api.request(method, pattern.replace('%s', encodeURIComponent(bad)), {
          token,
          body,
        });
        expectError(response, 400, 'E_INVALID_INPUT');
        expect(response.json.error.message).toContain('path parameter id');
      }
      const unknown = await api.request(
        method,
        pattern.replace('%s', '00000000-0000-4000-8000-000000000000'),
        {
          token,
          body,
        },
      );
      expectError(unknown, 404, 'E_NOT_FOUND');
    },
  );

  it('answers a URL that cannot be decoded with 400', async () => {
    const response = await api.request('GET', '/api/v1/chats/%E0%A4%A', { token: users.member.token });
    expectError(response, 400, 'E_INVALID_INPUT');
  });
});

describe('routes without a body', () => {
  it.each(['interrupt', 'archive', 'unarchive'])(
    'POST /chats/{id}/%s accepts no body, an empty one or {}, and refuses fields',
    async (action) => {
      const token = users.member.token;
      const path = await chatPath(`/${action}`);
      expect((await api.request('POST', path, { token })).status).toBeLessThan(300);
      const emptyJson = await api.request('POST', path, {
        token,
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      expect(emptyJson.status).toBeLessThan(300);
      expect((await api.request('POST', path, { token, body: {} })).status).toBeLessThan(300);
      const withField = await api.request('POST', path, { token, body: { force: true } });
      expectError(withField, 400, 'E_INVALID_INPUT');
      expect(withField.json.error.message).toContain('"force"');
    },
  );
});

describe('query strings and headers', () => {
  it('refuses unknown or malformed query parameters', async () => {
    const token = users.member.token;
    expectError(
      await api.request('GET', '/api/v1/chats?include_archived=yes', { token }),
      400,
      'E_INVALID_INPUT',
    );
    const unknown = await api.request('GET', '/api/v1/chats?page=2', { token });
    expectError(unknown, 400, 'E_INVALID_INPUT');
    expect(unknown.json.error.message).toContain('"page"');
    const stream = await chatPath('/stream');
    expectError(await api.request('GET', `${stream}?after_id=-1`, { token }), 400, 'E_INVALID_INPUT');
    expectError(await api.request('GET', `${stream}?after_id=abc`, { token }), 400, 'E_INVALID_INPUT');
    const header = await api.request('GET', stream, { token, headers: { 'last-event-id': 'x' } });
    expectError(header, 400, 'E_INVALID_INPUT');
    expect(header.json.error.message).toContain('last-event-id');
  });
});

describe('the error answers themselves', () => {
  it('answers unknown routes and methods with 404 E_NOT_FOUND', async () => {
    expectError(await api.request('GET', '/api/v1/nothing-here'), 404, 'E_NOT_FOUND');
    expectError(
      await api.request('PUT', '/api/v1/chats', { token: users.member.token, body: {} }),
      404,
      'E_NOT_FOUND',
    );
  });

  it('answers the default 1 MiB body limit with 413', async () => {
    const body = { custom_prompt: 'x'.repeat(1024 * 1024) };
    const response = await api.request('PUT', '/api/v1/chat/config/user-prompt', {
      token: users.member.token,
      body,
    });
    expectError(response, 413, 'E_TOO_LARGE');
  });

  it('answers unexpected errors with a generic 500 and logs the details', async () => {
    const response = await api.request('GET', '/test/boom');
    expect(response.status).toBe(500);
    expect(response.json).toEqual({ error: { code: 'E_INTERNAL', message: 'internal server error' } });
    expect(response.text).not.toContain('hunter2');
    const logged = api.logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'request failed');
    expect(logged).toMatchObject({ level: 50, err: { message: expect.stringContaining('internal failed') } });
  });

  it('answers a request without Content-Type but with a body with 415', async () => {
    const { status, body } = await rawPost(`${api.url}/api/v1/chats`, users.member.token, '{"content":"hi"}');
    expect(status).toBe(415);
    expect(JSON.parse(body)).toEqual({
      error: { code: 'E_UNSUPPORTED_MEDIA_TYPE', message: expect.any(String) },
    });
  });
});

/** A POST with a body and no Content-Type header at all (fetch always adds one). */
function rawPost(url: string, token: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * The typed client against a real chatd (in-process replica, embedded PostgreSQL, a scripted
 * OpenAI-compatible provider over HTTP): answers as data, failures as typed errors, credentials and the
 * CSRF token on the right requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../chatd/src/cli/chatd-server.js';
import { useTestDatabase } from '../../chatd/test/support/test-database.js';
import { startTestServer } from '../../chatd/test/support/test-server.js';
import {
  ChatdApiError,
  type ChatdClient,
  createChatdClient,
  isChatdApiError,
  logIn,
  logOut,
} from '../src/index.js';
import { cookieJarFetch } from './support/cookie-fetch.js';

const db = useTestDatabase();
let server: ChatdServer;
let admin: ChatdClient;

beforeAll(async () => {
  server = await startTestServer(db.database.url);
  admin = createChatdClient({ baseUrl: server.url, token: server.firstAdmin!.token });
});
afterAll(async () => {
  await server?.close();
});

describe('call', () => {
  it('resolves to the answer’s data', async () => {
    const me = await admin.call(admin.api.GET('/api/v1/users/me', {}));
    expect(me).toMatchObject({ username: 'admin', role: 'admin' });
  });

  it('rejects with the API’s error code and status', async () => {
    const error = await admin
      .call(
        admin.api.GET('/api/v1/chats/{id}', {
          params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
        }),
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChatdApiError);
    expect(error).toMatchObject({ status: 404, code: 'E_NOT_FOUND' });
  });

  it('names invalid input with a 400', async () => {
    const error = await admin
      .call(admin.api.POST('/api/v1/chats', { body: { content: 42 as unknown as string } }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 400, code: 'E_INVALID_INPUT' });
    expect((error as Error).message).toContain('content');
  });

  it('reports a refused token as 401', async () => {
    const stranger = createChatdClient({ baseUrl: server.url, token: 'chatd_not-a-real-token' });
    const error = await stranger
      .call(stranger.api.GET('/api/v1/users/me', {}))
      .catch((caught: unknown) => caught);
    expect(isChatdApiError(error)).toBe(true);
    expect(error).toMatchObject({ status: 401 });
  });

  it('reports an unreachable server as E_NETWORK with status 0', async () => {
    const nowhere = createChatdClient({ baseUrl: 'http://127.0.0.1:9', token: 'x' });
    const error = await nowhere
      .call(nowhere.api.GET('/api/v1/users/me', {}))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 0, code: 'E_NETWORK' });
  });

  it('reads Retry-After on a 429', async () => {
    const jar = cookieJarFetch();
    const client = createChatdClient({ baseUrl: server.url, fetch: jar.fetch });
    let limited: ChatdApiError | undefined;
    for (let attempt = 0; attempt < 40 && limited === undefined; attempt++) {
      await logIn(client, 'throttled-nobody', 'wrong password 123').catch((error: unknown) => {
        if (isChatdApiError(error, 'E_RATE_LIMITED')) limited = error;
        else expect(error).toMatchObject({ status: 401 });
      });
    }
    expect(limited?.status).toBe(429);
    expect(limited?.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe('cookie sessions', () => {
  async function sessionClient(): Promise<{ client: ChatdClient; cookies: Map<string, string> }> {
    const username = `session-${Math.random().toString(36).slice(2, 8)}`;
    const password = 'a long enough password';
    await admin.call(admin.api.POST('/api/v1/users', { body: { username, role: 'member', password } }));
    const jar = cookieJarFetch();
    const client = createChatdClient({ baseUrl: server.url, fetch: jar.fetch });
    const session = await logIn(client, username, password);
    expect(session.user.username).toBe(username);
    expect(jar.cookies.has('chatd_session')).toBe(true);
    return { client, cookies: jar.cookies };
  }

  it('sends the CSRF token login returned on unsafe requests', async () => {
    const { client } = await sessionClient();
    await client.call(
      client.api.PUT('/api/v1/chat/config/user-prompt', { body: { custom_prompt: 'Be brief.' } }),
    );
    const prompt = await client.call(client.api.GET('/api/v1/chat/config/user-prompt', {}));
    expect(prompt).toMatchObject({ custom_prompt: 'Be brief.' });
  });

  it('is refused with E_CSRF once the token is forgotten', async () => {
    const { client } = await sessionClient();
    client.setCsrfToken(undefined);
    const error = await client
      .call(client.api.PUT('/api/v1/chat/config/user-prompt', { body: { custom_prompt: 'x' } }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 403, code: 'E_CSRF' });
    // A safe request needs no CSRF token.
    await expect(client.call(client.api.GET('/api/v1/users/me', {}))).resolves.toBeDefined();
  });

  it('logs out: the session cookie no longer works', async () => {
    const { client } = await sessionClient();
    await logOut(client);
    const error = await client
      .call(client.api.GET('/api/v1/users/me', {}))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 401 });
  });
});

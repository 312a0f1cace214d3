/**
 * The credential cache: a warm token or session costs no query; every revocation (through the API on
 * another replica, or in raw SQL) and every role change drops it at once; while the notification listener
 * is down nothing is served from memory, and everything held is dropped when it comes back.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../src/auth/api-tokens.js';
import { CredentialCache } from '../../src/auth/credential-cache.js';
import { parseCredential } from '../../src/auth/secret-credentials.js';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { PostgresPubsub } from '../../src/pubsub/postgres-pubsub.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { logIn, TEST_PASSWORD } from '../http/support/api-harness.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';

const db = useTestDatabase();
let a: ChatdServer;
let b: ChatdServer;
let adminA: ChatdClient;

beforeAll(async () => {
  a = await startTestServer(db.database.url);
  b = await startTestServer(db.database.url);
  adminA = new ChatdClient(a.url, a.firstAdmin!.token);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

let sequence = 0;
async function newMember(): Promise<{ id: string; username: string; token: string }> {
  sequence += 1;
  const username = `cached-${sequence}`;
  const created = await adminA.request<{ user: { id: string }; token: string }>('POST', '/api/v1/users', {
    username,
    role: 'member',
    password: TEST_PASSWORD,
  });
  return { id: created.user.id, username, token: created.token };
}

/** GET /users/me on `server` with `headers`: the status and the role it shows. */
async function me(
  server: ChatdServer,
  headers: Record<string, string>,
): Promise<{ status: number; role?: string }> {
  const response = await fetch(`${server.url}/api/v1/users/me`, { headers });
  const body = (await response.json()) as { role?: string };
  return { status: response.status, ...(body.role ? { role: body.role } : {}) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Makes B hold the credential: two requests, since the first refreshes `last_used_at` of a new token,
 * which drops what B held; the second loads it again.
 */
async function warmOnB(headers: Record<string, string>): Promise<void> {
  for (let index = 0; index < 2; index++) expect((await me(b, headers)).status).toBe(200);
}

/** Waits until B refuses `headers`, and returns how long that took from `since` (the write's commit). */
async function refusedWithin(headers: Record<string, string>, since: number): Promise<number> {
  await eventually(async () => (await me(b, headers)).status === 401, 'B refuses the credential', 2_000);
  return Date.now() - since;
}

describe('a warm credential', () => {
  it('costs no query on later requests (tokens and sessions)', async () => {
    const member = await newMember();
    const session = await logIn(b.url, member.username);
    // The first request loads and refreshes last_used_at (a new token has none), which drops what is
    // held; the second loads the refreshed row. From then on: memory.
    for (let index = 0; index < 2; index++) {
      expect((await me(b, bearer(member.token))).status).toBe(200);
      expect((await me(b, { cookie: session.cookie })).status).toBe(200);
    }
    const tokensBefore = b.queryStats.calls('getApiTokenWithUserByPublicId');
    const sessionsBefore = b.queryStats.calls('getUserSessionWithUserByPublicId');
    for (let index = 0; index < 20; index++) {
      expect((await me(b, bearer(member.token))).status).toBe(200);
      expect((await me(b, { cookie: session.cookie })).status).toBe(200);
    }
    expect(b.queryStats.calls('getApiTokenWithUserByPublicId') - tokensBefore).toBe(0);
    expect(b.queryStats.calls('getUserSessionWithUserByPublicId') - sessionsBefore).toBe(0);
  });

  it('refreshes last_used_at once for a burst of requests with one token', async () => {
    const member = await newMember();
    const touchesBefore = b.queryStats.calls('touchApiTokenLastUsed');
    // A new token has no last_used_at: every request of the burst reads it so, none waits for another.
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async () => (await me(b, bearer(member.token))).status),
    );
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(b.queryStats.calls('touchApiTokenLastUsed') - touchesBefore).toBe(1);
    const [row] = await db.sql<[{ lastUsedAt: Date | null }]>`
      SELECT last_used_at FROM api_tokens WHERE user_id = ${member.id}`;
    expect(row.lastUsedAt).not.toBeNull();
  });

  it('still refuses a wrong secret for a cached public id', async () => {
    const member = await newMember();
    expect((await me(b, bearer(member.token))).status).toBe(200);
    const forged = `${member.token.slice(0, -4)}${member.token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expect((await me(b, bearer(forged))).status).toBe(401);
  });
});

describe('revocation with the cache warm on B', () => {
  it('a token deleted through A is refused by B within notification time', async () => {
    const member = await newMember();
    const client = new ChatdClient(a.url, member.token);
    const issued = await client.request<{ id: string; token: string }>('POST', '/api/v1/users/me/tokens', {
      name: 'laptop',
    });
    await warmOnB(bearer(issued.token));
    const since = Date.now();
    await client.request('DELETE', `/api/v1/users/me/tokens/${issued.id}`);
    expect(await refusedWithin(bearer(issued.token), since)).toBeLessThan(1_000);
    // The user's other token is unaffected.
    expect((await me(b, bearer(member.token))).status).toBe(200);
  });

  it('a token deleted in raw SQL is refused by B', async () => {
    const member = await newMember();
    const publicId = parseCredential('chatd', member.token)!.publicId;
    await warmOnB(bearer(member.token));
    const since = Date.now();
    await db.sql`DELETE FROM api_tokens WHERE public_id = ${publicId}`;
    expect(await refusedWithin(bearer(member.token), since)).toBeLessThan(1_000);
  });

  it('an expiry set in raw SQL is refused by B', async () => {
    const member = await newMember();
    const publicId = parseCredential('chatd', member.token)!.publicId;
    await warmOnB(bearer(member.token));
    await db.sql`UPDATE api_tokens SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' WHERE public_id = ${publicId}`;
    expect(await refusedWithin(bearer(member.token), Date.now())).toBeLessThan(1_000);
  });

  it('a session ended in raw SQL, and a user disabled through A, are refused by B', async () => {
    const member = await newMember();
    const session = await logIn(a.url, member.username);
    await warmOnB({ cookie: session.cookie });
    await db.sql`DELETE FROM user_sessions WHERE user_id = ${member.id}`;
    expect(await refusedWithin({ cookie: session.cookie }, Date.now())).toBeLessThan(1_000);

    await warmOnB(bearer(member.token));
    await adminA.request('PATCH', `/api/v1/users/${member.id}`, { disabled: true });
    expect(await refusedWithin(bearer(member.token), Date.now())).toBeLessThan(1_000);
  });

  it('a role changed through A or in raw SQL shows on B at once', async () => {
    const member = await newMember();
    await warmOnB(bearer(member.token));
    expect(await me(b, bearer(member.token))).toEqual({ status: 200, role: 'member' });
    await adminA.request('PATCH', `/api/v1/users/${member.id}`, { role: 'admin' });
    await eventually(async () => (await me(b, bearer(member.token))).role === 'admin', 'B sees admin', 2_000);
    await db.sql`UPDATE users SET role = 'member' WHERE id = ${member.id}`;
    await eventually(
      async () => (await me(b, bearer(member.token))).role === 'member',
      'B sees member',
      2_000,
    );
  });
});

describe('the listener-down rule', () => {
  it('serves nothing from memory while the listener is down, and drops everything when it is back', async () => {
    const applicationName = `chatd-credentials-${randomBytes(4).toString('hex')}`;
    const pubsub = await PostgresPubsub.connect(db.database.url, {
      listenerApplicationName: applicationName,
      // A fixed 400 ms before reconnecting, so the write below surely lands while it is down.
      reconnect: { initialDelayMs: 400, maxDelayMs: 400, jitter: 'none' },
    });
    const cache = new CredentialCache(db.store);
    const stop = await cache.start(pubsub);
    try {
      const user = await db.store.insertUser({ username: `listener-${applicationName}`, role: 'member' });
      const issued = await issueApiToken(db.store, user.id, 'probe');
      const publicId = parseCredential('chatd', issued.token)!.publicId;
      expect(await cache.apiToken(publicId)).toBeDefined();
      await cache.apiToken(publicId);
      expect(cache.stats().tokens.hits).toBe(1);

      await db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${applicationName}`;
      await eventually(() => !pubsub.connected, 'the listener is down');
      // Down: every read goes to the database, so a delete nobody is told of is seen at once.
      expect(await cache.apiToken(publicId)).toBeDefined();
      await db.sql`DELETE FROM api_tokens WHERE id = ${issued.id}`;
      expect(await cache.apiToken(publicId)).toBeUndefined();
      expect(cache.stats().tokens.hits).toBe(1);

      await eventually(() => pubsub.connected, 'the listener is back', 5_000);
      const again = await issueApiToken(db.store, user.id, 'probe 2');
      const againId = parseCredential('chatd', again.token)!.publicId;
      expect(await cache.apiToken(againId)).toBeDefined();
      expect(await cache.apiToken(againId)).toBeDefined();
      expect(cache.stats().tokens.hits).toBe(2);
    } finally {
      await stop();
      await pubsub.close();
    }
  });
});

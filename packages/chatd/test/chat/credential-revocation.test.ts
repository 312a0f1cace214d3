import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { logIn, TEST_PASSWORD } from '../http/support/api-harness.js';
import { SseClient } from '../http/support/sse-client.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';

/**
 * Two replicas on one database: a credential ended through one is refused by the other as soon as the
 * `auth:revoked` trigger's notification arrives (the other may hold it in its credential cache), and the
 * streams it opened on the other close within a second, not at the next reconnect.
 */
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
/** A member with a password and a chat of their own. */
async function newMember(): Promise<{ id: string; username: string; token: string; chatId: string }> {
  sequence += 1;
  const username = `revocable-${sequence}`;
  const created = await adminA.request<{ user: { id: string }; token: string }>('POST', '/api/v1/users', {
    username,
    role: 'member',
    password: TEST_PASSWORD,
  });
  const chat = await db.store.insertChat({
    ownerId: created.user.id,
    title: 't',
    status: 'waiting',
    modelConfigId: null,
  });
  return { id: created.user.id, username, token: created.token, chatId: chat.id };
}

/** Waits for the stream to end; returns how long it took from `since`. */
async function endedWithin(stream: SseClient, since: number, timeoutMs = 5_000): Promise<number> {
  await Promise.race([
    stream.ended$(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('the stream stayed open')), timeoutMs)),
  ]);
  return Date.now() - since;
}

async function openStream(
  server: ChatdServer,
  chatId: string,
  token?: string,
  headers?: Record<string, string>,
) {
  const stream = await SseClient.connect(`${server.url}/api/v1/chats/${chatId}/stream`, token, headers);
  expect(stream.response.status).toBe(200);
  await stream.waitFor((events) => events.some((e) => e.event === 'status'), 'the first status');
  return stream;
}

describe('credentials ended on one replica', () => {
  it('a token revoked through A is refused by B at once, and its stream on B closes within a second', async () => {
    const member = await newMember();
    const client = new ChatdClient(a.url, member.token);
    const issued = await client.request<{ id: string; token: string }>('POST', '/api/v1/users/me/tokens', {
      name: 'phone',
    });
    const onB = await openStream(b, member.chatId, issued.token);
    // Another stream of the same user on another token stays open.
    const sibling = await openStream(b, member.chatId, member.token);

    const revokedAt = Date.now();
    await client.request('DELETE', `/api/v1/users/me/tokens/${issued.id}`);
    // B holds the token in its credential cache: the trigger's notification drops it (well under a second).
    await eventually(
      async () =>
        (await fetch(`${b.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${issued.token}` } }))
          .status === 401,
      'B refuses the revoked token',
      1_000,
    );
    const elapsed = await endedWithin(onB, revokedAt);
    expect(elapsed).toBeLessThan(1_000);
    expect(onB.comments).toContain('credential ended');
    expect(sibling.ended).toBe(false);
    await sibling.close();
  });

  it('logout on A closes the session’s stream on B; disabling the user closes all of theirs', async () => {
    const member = await newMember();
    const session = await logIn(a.url, member.username);
    const sessionStream = await openStream(b, member.chatId, undefined, { cookie: session.cookie });
    const loggedOutAt = Date.now();
    const out = await fetch(`${a.url}/api/v1/auth/logout`, { method: 'POST', headers: session.headers });
    expect(out.status).toBe(204);
    expect(await endedWithin(sessionStream, loggedOutAt)).toBeLessThan(1_000);

    const again = await logIn(b.url, member.username);
    const streams = [
      await openStream(b, member.chatId, member.token),
      await openStream(a, member.chatId, undefined, { cookie: again.cookie }),
    ];
    const disabledAt = Date.now();
    await adminA.request('PATCH', `/api/v1/users/${member.id}`, { disabled: true });
    for (const stream of streams) expect(await endedWithin(stream, disabledAt)).toBeLessThan(1_000);
    const refused = await fetch(`${b.url}/api/v1/users/me`, { headers: { cookie: again.cookie } });
    expect(refused.status).toBe(401);
  });

  it('a token deleted in SQL (not through the API) closes its streams too', async () => {
    const member = await newMember();
    const stream = await openStream(b, member.chatId, member.token);
    const deletedAt = Date.now();
    await db.sql`DELETE FROM api_tokens WHERE user_id = ${member.id}`;
    expect(await endedWithin(stream, deletedAt)).toBeLessThan(1_000);
  });
});

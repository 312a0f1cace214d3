import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStreamedMessage } from '../../src/chat/chat-events.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';
import { SseClient } from './support/sse-client.js';

/** Limits of the HTTP server itself: oversized bodies, and timeouts for slow clients. */
const db = useTestDatabase();
let api: TestApi;
/** The same API with short timeouts. */
let quick: TestApi;
let member: TestUser;

const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 800;
const KEEP_ALIVE_TIMEOUT_MS = 200;

beforeAll(async () => {
  api = await startTestApi(db.store);
  quick = await startTestApi(db.store, {
    http: {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      maxDiscardedBodyBytes: 2 * 1024 * 1024,
    },
  });
  ({ member } = await createTestUsers(db.store));
});
afterAll(async () => {
  await api?.close();
  await quick?.close();
});

/** What a raw client saw of one request: the answer, and any socket error on either side. */
interface RawOutcome {
  readonly status: number | undefined;
  readonly connection: string | undefined;
  readonly text: string;
  readonly error: string | undefined;
}

/** 3 MB of JSON: three times the default body limit. */
const BIG_BODY = Buffer.from(JSON.stringify({ content: 'x'.repeat(3 * 1024 * 1024) }));

/**
 * POSTs `body` on a fresh connection with node:http, with `Content-Length` or chunked (64 KiB writes),
 * and reports every error the socket raised, even one after the answer was read: a reset while the
 * client still writes is exactly the failure under test.
 */
function postRaw(path: string, token: string, body: Buffer, chunked: boolean): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
    };
    if (!chunked) headers['content-length'] = body.length;
    const url = new URL(path, api.url);
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers,
      agent: false,
    });
    let status: number | undefined;
    let connection: string | undefined;
    let text = '';
    let error: string | undefined;
    let settled = false;
    // Errors can follow the answer (the reset of a client still writing): wait a little before settling.
    const settle = () => {
      if (settled) return;
      settled = true;
      setTimeout(() => resolve({ status, connection, text, error }), 50);
    };
    req.on('response', (res) => {
      status = res.statusCode;
      connection = res.headers.connection;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', settle);
      res.on('error', (e: NodeJS.ErrnoException) => {
        error ??= `response: ${e.code ?? e.message}`;
        settle();
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      error ??= `request: ${e.code ?? e.message}`;
      if (status === undefined) settle();
    });
    // Written in 64 KiB pieces with a pause between them, as over a real network: the answer comes
    // while the client is still sending (on loopback, a body written at once sits in kernel buffers).
    void (async () => {
      for (let offset = 0; offset < body.length && !req.destroyed; offset += 64 * 1024) {
        req.write(body.subarray(offset, offset + 64 * 1024));
        await new Promise((resume) => setTimeout(resume, 1));
      }
      req.end();
    })();
  });
}

function expectTooLarge(outcome: RawOutcome, what: string): void {
  expect(outcome.error, what).toBeUndefined();
  expect(outcome.status, what).toBe(413);
  expect(JSON.parse(outcome.text), what).toEqual({
    error: { code: 'E_TOO_LARGE', message: expect.any(String) },
  });
}

describe('a body over the limit', () => {
  it.each([
    ['Content-Length', false],
    ['chunked', true],
  ])('is answered 413 that the client reads, never a reset (%s)', async (_name, chunked) => {
    for (let i = 0; i < 20; i++) {
      expectTooLarge(await postRaw('/api/v1/chats', member.token, BIG_BODY, chunked), `sequential ${i}`);
    }
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () => postRaw('/api/v1/chats', member.token, BIG_BODY, chunked)),
    );
    for (const [i, outcome] of concurrent.entries()) expectTooLarge(outcome, `concurrent ${i}`);
    // The server is fine afterwards.
    expect((await api.request('GET', '/api/v1/chats', { token: member.token })).status).toBe(200);
  });

  it('before authentication, a 401 is read the same way', async () => {
    for (const chunked of [false, true]) {
      const outcome = await postRaw('/api/v1/chats', 'chatd_not-a-token', BIG_BODY, chunked);
      expect(outcome.error).toBeUndefined();
      expect(outcome.status).toBe(401);
      expect(JSON.parse(outcome.text).error.code).toBe('E_UNAUTHORIZED');
    }
  });

  it('declared longer than the discard bound, is answered at once and the connection closed', async () => {
    // `quick` discards at most 2 MiB: a 3 MB body is not waited for.
    const raw = await openRaw(quick);
    raw.socket.write(
      `POST /api/v1/chats HTTP/1.1\r\nHost: chatd\r\nAuthorization: Bearer ${member.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${BIG_BODY.length}\r\n\r\n`,
    );
    const closedAfter = await raw.closed(HEADERS_TIMEOUT_MS);
    expect(closedAfter).toBeLessThan(HEADERS_TIMEOUT_MS);
    expect(raw.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw.received().toLowerCase()).toContain('connection: close');
  });

  it('is answered 413 through fetch too, sequentially and concurrently', async () => {
    const post = async () => {
      const response = await fetch(`${api.url}/api/v1/chats`, {
        method: 'POST',
        headers: { authorization: `Bearer ${member.token}`, 'content-type': 'application/json' },
        body: BIG_BODY,
      });
      return { status: response.status, json: await response.json() };
    };
    for (let i = 0; i < 20; i++) expect((await post()).status).toBe(413);
    for (const outcome of await Promise.all(Array.from({ length: 10 }, post))) {
      expect(outcome).toEqual({
        status: 413,
        json: { error: { code: 'E_TOO_LARGE', message: expect.any(String) } },
      });
    }
  });
});

/** A raw TCP client: what it received, and when the server closed the connection. */
interface RawSocket {
  readonly socket: Socket;
  received(): string;
  /** Resolves with the ms from `since` to the close, or rejects after `timeoutMs`. */
  closed(timeoutMs: number): Promise<number>;
}

async function openRaw(target: TestApi): Promise<RawSocket> {
  const url = new URL(target.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
  });
  socket.on('error', () => {});
  const openedAt = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  return {
    socket,
    received: () => data,
    closed: (timeoutMs) =>
      Promise.race([
        closed,
        new Promise<number>((_resolve, reject) =>
          setTimeout(
            () => reject(new Error(`still open after ${timeoutMs} ms; got ${JSON.stringify(data)}`)),
            timeoutMs,
          ),
        ),
      ]),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The 408 the server writes for a request it did not receive in time: the JSON error shape. */
function expectRequestTimeout(received: string): void {
  expect(received).toMatch(/^HTTP\/1\.1 408 /);
  expect(received.toLowerCase()).toContain('connection: close');
  const body = received.slice(received.indexOf('\r\n\r\n') + 4);
  expect(JSON.parse(body)).toEqual({ error: { code: 'E_REQUEST_TIMEOUT', message: expect.any(String) } });
}

describe('timeouts', () => {
  it('answers headers that never end with 408 and closes (slowloris)', async () => {
    const raw = await openRaw(quick);
    raw.socket.write(
      `GET /api/v1/chats HTTP/1.1\r\nHost: chatd\r\nAuthorization: Bearer ${member.token}\r\n`,
    );
    // One more header line every 50 ms keeps the socket busy, never the headers complete.
    const trickle = setInterval(() => raw.socket.write('X-Slow: 1\r\n'), 50);
    try {
      const closedAfter = await raw.closed(HEADERS_TIMEOUT_MS + 3_000);
      expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expectRequestTimeout(raw.received());
    } finally {
      clearInterval(trickle);
    }
  });

  it('answers a body sent too slowly with 408 and closes', async () => {
    const raw = await openRaw(quick);
    raw.socket.write(
      `POST /api/v1/chats HTTP/1.1\r\nHost: chatd\r\nAuthorization: Bearer ${member.token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"content":"',
    );
    const trickle = setInterval(() => raw.socket.write('x'), 50);
    try {
      const closedAfter = await raw.closed(REQUEST_TIMEOUT_MS + 3_000);
      expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expectRequestTimeout(raw.received());
    } finally {
      clearInterval(trickle);
    }
    // The slow request wrote nothing.
    const chats = await quick.request('GET', '/api/v1/chats', { token: member.token });
    expect(chats.status).toBe(200);
    expect(chats.json.chats).toEqual([]);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const raw = await openRaw(quick);
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: chatd\r\n\r\n');
    // Node closes idle connections up to a second after the timeout it advertises.
    const closedAfter = await raw.closed(KEEP_ALIVE_TIMEOUT_MS + 3_000);
    expect(raw.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw.received().toLowerCase()).toContain('keep-alive: timeout=');
    expect(closedAfter).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS);
  });

  it('are passed through startChatdServer (what `chatd server --http-*-timeout` sets)', async () => {
    const server = await startTestServer(db.database.url, {
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
    });
    try {
      const url = new URL(server.url);
      const socket = connect(Number(url.port), url.hostname);
      let received = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        received += chunk;
      });
      socket.on('error', () => {});
      socket.write('GET /healthz HTTP/1.1\r\nHost: chatd\r\n');
      const startedAt = Date.now();
      await new Promise((resolve) => socket.once('close', resolve));
      expect(Date.now() - startedAt).toBeLessThan(HEADERS_TIMEOUT_MS + 2_000);
      expectRequestTimeout(received);
    } finally {
      await server.close();
    }
  });

  it('never cuts off a chat stream: it stays open and live well past the request timeout', async () => {
    const chat = await db.store.insertChat({
      ownerId: member.id,
      title: 'long stream',
      status: 'waiting',
      modelConfigId: null,
    });
    const client = await SseClient.connect(`${quick.url}/api/v1/chats/${chat.id}/stream`, member.token);
    try {
      expect(client.response.status).toBe(200);
      await client.waitFor((events) => events.length >= 1, 'the snapshot');
      await sleep(REQUEST_TIMEOUT_MS * 3);
      expect(client.ended).toBe(false);
      const row = await db.store.insertChatMessage({
        chatId: chat.id,
        role: 'assistant',
        content: 'still here',
        modelConfigId: null,
        inputTokens: 1,
        outputTokens: 1,
      });
      await quick.deps.events.publish(chat.id, [{ type: 'message', message: toStreamedMessage(row) }]);
      await client.waitFor(
        (events) => events.some((event) => event.event === 'message' && event.data.id === row.id),
        'a message published after the request timeout',
      );
    } finally {
      await client.close();
    }
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestFetch } from '../../src/llm/request-fetch.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** Two servers (two origins): the first answers by route, the second echoes what it got. */
let server: Server;
let other: Server;
let base: string;
let otherBase: string;
const seen: Seen[] = [];
const closedResponses: string[] = [];
const routes: Record<string, Route> = {};

function listen(handler: Route): Promise<{ server: Server; base: string }> {
  const created = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res);
    });
  });
  return new Promise((resolve) =>
    created.listen(0, '127.0.0.1', () =>
      resolve({ server: created, base: `http://127.0.0.1:${(created.address() as AddressInfo).port}` }),
    ),
  );
}

beforeAll(async () => {
  ({ server, base } = await listen((req, res) => {
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (route) route(req, res);
    else res.writeHead(404).end('no such route');
  }));
  ({ server: other, base: otherBase } = await listen((_req, res) => res.end('other origin')));
});
afterAll(async () => {
  await agent.close();
  await Promise.all([server, other].map((s) => new Promise((resolve) => s.close(resolve))));
});

const agent = new Agent();
const fetch = createRequestFetch(agent);

/** Reads a body stream's chunks as text, one string per read. */
async function readChunks(response: Response): Promise<string[]> {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(decoder.decode(chunk));
  }
  return chunks;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('the request fetch', () => {
  it('sends the method, headers and body, and answers status, status text, headers and body', async () => {
    routes['/echo'] = (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(201, 'Made Up', { 'content-type': 'application/json', 'x-request-id': 'r1' });
      res.end(JSON.stringify({ got: seen.at(-1)?.body }));
    };
    const response = await fetch(`${base}/echo?q=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-1' },
      body: '{"hello":"wörld"}',
    });
    expect(response.status).toBe(201);
    // The standard reason phrase, not the server's own.
    expect(response.statusText).toBe('Created');
    expect(response.ok).toBe(true);
    expect(response.headers.get('x-request-id')).toBe('r1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ got: '{"hello":"wörld"}' });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/echo?q=1', body: '{"hello":"wörld"}' });
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer sk-1',
      accept: '*/*',
      'content-length': String(Buffer.byteLength('{"hello":"wörld"}')),
    });
    expect(request.headers['accept-encoding']).toBeUndefined();
  });

  it('streams the body as it arrives', async () => {
    let sendRest: (() => void) | undefined;
    routes['/stream'] = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      sendRest = () => res.end('data: last\n\n');
    };
    const response = await fetch(`${base}/stream`);
    const reader = response.body!.getReader();
    const first = await reader.read();
    // The first event was read while the server still holds the rest back.
    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
    expect(sendRest).toBeDefined();
    sendRest!();
    const rest: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest.push(new TextDecoder().decode(value));
    }
    expect(rest.join('')).toBe('data: last\n\n');
  });

  it('decodes a gzip body, and gives no body for 204', async () => {
    routes['/gzip'] = (_req, res) =>
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('zipped'));
    expect(await (await fetch(`${base}/gzip`)).text()).toBe('zipped');
    routes['/empty'] = (_req, res) => res.writeHead(204).end();
    const empty = await fetch(`${base}/empty`, { method: 'DELETE' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('follows redirects: 307 keeps the method and body, 303 becomes a GET, another origin gets no Authorization', async () => {
    routes['/keep'] = (_req, res) => res.writeHead(307, { location: '/echo-plain' }).end();
    routes['/see-other'] = (_req, res) => res.writeHead(303, { location: '/echo-plain' }).end();
    routes['/elsewhere'] = (_req, res) => res.writeHead(302, { location: `${otherBase}/landing` }).end();
    routes['/echo-plain'] = (req, res) => res.end(`${req.method} ${seen.at(-1)?.body}`);
    const init = { method: 'POST', headers: { authorization: 'Bearer sk-2' }, body: 'payload' };
    expect(await (await fetch(`${base}/keep`, init)).text()).toBe('POST payload');
    expect(await (await fetch(`${base}/see-other`, init)).text()).toBe('GET ');
    expect(await (await fetch(`${base}/elsewhere`, { headers: init.headers })).text()).toBe('other origin');
    expect(seen.at(-1)).toMatchObject({ url: '/landing' });
    expect(seen.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('rejects a failed connection as fetch does: TypeError "fetch failed" with the cause', async () => {
    const closed = await listen(() => {});
    await new Promise((resolve) => closed.server.close(resolve));
    const error = await rejection(fetch(`${closed.base}/`));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('errors a body cut off mid-stream with TypeError "terminated"', async () => {
    routes['/cut'] = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const response = await fetch(`${base}/cut`);
    const error = await rejection(response.text());
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('terminated');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('rejects with the signal reason when aborted before the answer, and errors the body when aborted during it', async () => {
    routes['/slow'] = (_req, res) => {
      setTimeout(() => res.end('late'), 2_000);
    };
    const before = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: before.signal });
    const reason = new Error('stop now');
    setTimeout(() => before.abort(reason), 20);
    expect(await rejection(pending)).toBe(reason);
    expect(await rejection(fetch(`${base}/slow`, { signal: AbortSignal.abort(reason) }))).toBe(reason);

    routes['/drip'] = (_req, res) => {
      res.writeHead(200);
      res.write('one');
    };
    const during = new AbortController();
    const response = await fetch(`${base}/drip`, { signal: during.signal });
    const reader = response.body!.getReader();
    await reader.read();
    during.abort(reason);
    expect(await rejection(reader.read())).toBe(reason);
  });

  it('ends the response on the server when the body is cancelled', async () => {
    routes['/endless'] = (req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('tick\n'), 5);
      res.on('close', () => {
        clearInterval(timer);
        closedResponses.push(req.url ?? '');
      });
    };
    const response = await fetch(`${base}/endless`);
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await expect.poll(() => closedResponses).toContain('/endless');
  });

  it('refuses what no provider call sends: a Request, a stream body, a GET with a body, another scheme', async () => {
    await expect(fetch(new Request(`${base}/echo`))).rejects.toThrow(/not a Request/);
    await expect(
      fetch(`${base}/echo`, { method: 'POST', body: new ReadableStream(), duplex: 'half' } as RequestInit),
    ).rejects.toThrow(/string or byte bodies/);
    await expect(fetch(`${base}/echo`, { body: 'x' })).rejects.toThrow(/GET request cannot have a body/);
    await expect(fetch('file:///etc/passwd')).rejects.toMatchObject({ message: 'fetch failed' });
  });

  it('gives each of many concurrent streamed responses its own whole body, in order', async () => {
    routes['/many'] = (req, res) => {
      res.writeHead(200);
      const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id');
      let index = 0;
      const timer = setInterval(() => {
        if (index === 20) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(`${id}:${index++};`);
      }, 1);
    };
    const bodies = await Promise.all(
      Array.from({ length: 50 }, async (_, id) =>
        (await readChunks(await fetch(`${base}/many?id=${id}`))).join(''),
      ),
    );
    bodies.forEach((body, id) => {
      expect(body).toBe(Array.from({ length: 20 }, (_, index) => `${id}:${index};`).join(''));
    });
  });
});

/**
 * `nodeHttpFetch` against real `node:http` servers on loopback: what it sends again (a 408, a refused
 * connection) and what it does not, and its connection limit, which leaves event streams out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeHttpFetch } from '../src/node-fetch.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server on a free loopback port; resolves its base URL. */
async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Reads a request's body as text. */
async function bodyOf(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('nodeHttpFetch', () => {
  it('sends a request again, whole, when the server answers 408 (it never received it)', async () => {
    const seen: Array<{ method: string; body: string }> = [];
    const url = await serve(async (request, response) => {
      seen.push({ method: request.method!, body: await bodyOf(request) });
      if (seen.length === 1) {
        response.writeHead(408, { connection: 'close' }).end('{"error":{"code":"E_REQUEST_TIMEOUT"}}');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    let retries = 0;
    const fetch = nodeHttpFetch({ onRequestTimeoutRetry: () => (retries += 1) });
    const response = await fetch(
      new Request(`${url}/messages`, { method: 'POST', body: '{"content":"hello"}' }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(retries).toBe(1);
    expect(seen).toEqual([
      { method: 'POST', body: '{"content":"hello"}' },
      { method: 'POST', body: '{"content":"hello"}' },
    ]);
  });

  it('returns the last 408 after its attempts, and sends nothing again for other errors', async () => {
    let requests = 0;
    const url = await serve((request, response) => {
      requests += 1;
      const status = request.url === '/always-408' ? 408 : 503;
      response.writeHead(status, { connection: 'close' }).end('{}');
    });
    let retries = 0;
    const fetch = nodeHttpFetch({ connectionAttempts: 3, onRequestTimeoutRetry: () => (retries += 1) });
    const timedOut = await fetch(new Request(`${url}/always-408`, { method: 'POST', body: '{}' }));
    expect(timedOut.status).toBe(408);
    expect(requests).toBe(3);
    expect(retries).toBe(2);
    const unavailable = await fetch(new Request(`${url}/other`, { method: 'POST', body: '{}' }));
    expect(unavailable.status).toBe(503);
    expect(requests).toBe(4);
  });

  it('tries a refused connection again, then fails with the code', async () => {
    // A port that was just free: nothing listens on it any more.
    const url = await serve(() => undefined);
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const retried: string[] = [];
    const fetch = nodeHttpFetch({
      connectionAttempts: 2,
      onConnectionRetry: (error) => retried.push((error as NodeJS.ErrnoException).code ?? ''),
    });
    await expect(fetch(new Request(`${url}/`))).rejects.toThrow(/fetch failed.*ECONNREFUSED/);
    expect(retried).toEqual(['ECONNREFUSED']);
  });

  it('keeps requests within maxSockets connections, and event streams outside the limit', async () => {
    const connections = new Set<unknown>();
    let open = 0;
    let mostOpen = 0;
    const url = await serve((request, response) => {
      connections.add(request.socket);
      if (request.url === '/stream') {
        // Open until the test ends: a stream that held one of the limited connections would block the rest.
        response.writeHead(200, { 'content-type': 'text/event-stream' }).write('event: hello\ndata: {}\n\n');
        return;
      }
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      setTimeout(() => {
        open -= 1;
        response.writeHead(200, { 'content-type': 'application/json' }).end(`{"path":"${request.url}"}`);
      }, 20);
    });
    const fetch = nodeHttpFetch({ maxSockets: 2 });
    const stream = await fetch(new Request(`${url}/stream`, { headers: { accept: 'text/event-stream' } }));
    expect(stream.status).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        fetch(new Request(`${url}/r${index}`)).then((response) => response.json()),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 6 }, (_, index) => ({ path: `/r${index}` })));
    // Six requests over two connections (at most two at once), plus the stream's own.
    expect(mostOpen).toBe(2);
    expect(connections.size).toBe(3);
    await stream.body!.cancel();
  });
});

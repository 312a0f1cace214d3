import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { createHttpServer } from '../../src/http/server.js';
import { registerWebApp, resolveWebAppRoot, WEB_APP_MISSING_MESSAGE } from '../../src/http/web-app.js';
import { CONTENT_SECURITY_POLICY } from '../../src/http/web-app-policy.js';
import { createLogger } from '../../src/logging/logger.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';

/** An answer with its body as sent: no decompression (fetch would undo the encoding under test). */
interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request with exactly the given headers (none added). */
function raw(url: string, options: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<RawResponse>((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    request.end();
  });
}

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const distRoot = resolveWebAppRoot();
const db = useTestDatabase();
let server: ChatdServer;
let indexHtml: Buffer;
/** The entry script, as index.html names it: `assets/index-<hash>.js`. */
let entryAsset: string;

beforeAll(async () => {
  if (distRoot === undefined) throw new Error('@chatd/web is not installed');
  indexHtml = readFileSync(path.join(distRoot, 'index.html'));
  const script = /<script type="module" crossorigin src="\/(assets\/[^"]+\.js)"/.exec(indexHtml.toString());
  if (!script?.[1]) throw new Error('the built index.html names no entry script: run npm run build');
  entryAsset = script[1];
  server = await startTestServer(db.database.url);
});
afterAll(() => server?.close());

function expectHtmlPage(response: RawResponse): void {
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['referrer-policy']).toBe('same-origin');
  expect(response.headers['cache-control']).toBe('no-cache');
  expect(response.headers.etag).toMatch(/^(W\/)?"/);
  expect(response.body.equals(indexHtml)).toBe(true);
}

describe('the web app served by chatd', () => {
  it('answers / and deep links with index.html, its CSP, no-cache and an ETag that revalidates', async () => {
    const root = await raw(`${server.url}/`, { headers: HTML });
    expectHtmlPage(root);
    expectHtmlPage(await raw(`${server.url}/chats/123`, { headers: HTML }));
    expectHtmlPage(await raw(`${server.url}/settings?tab=profile`, { headers: { accept: '*/*' } }));
    expectHtmlPage(await raw(`${server.url}/chats`, { headers: { ...HTML, 'sec-fetch-dest': 'document' } }));
    // The build's manifest is not served: that path is a deep link like any other.
    expectHtmlPage(await raw(`${server.url}/.vite/manifest.json`, { headers: HTML }));
    const revalidated = await raw(`${server.url}/`, {
      headers: { ...HTML, 'if-none-match': String(root.headers.etag) },
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body.length).toBe(0);
    const head = await raw(`${server.url}/chats/123`, { method: 'HEAD', headers: HTML });
    expect(head.status).toBe(200);
    expect(head.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it('needs no inline script: every script of index.html is a file under /assets/', () => {
    const scripts = [...indexHtml.toString().matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/assets\//);
      expect(body?.trim()).toBe('');
    }
    expect(indexHtml.toString()).not.toMatch(/\sstyle=|<style/);
  });

  it('serves assets immutable, as brotli, gzip or identity by Accept-Encoding, with the file bytes', async () => {
    const file = readFileSync(path.join(distRoot!, entryAsset));
    const url = `${server.url}/${entryAsset}`;
    const br = await raw(url, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    const gzip = await raw(url, { headers: { 'accept-encoding': 'gzip' } });
    const identity = await raw(url);
    for (const response of [br, gzip, identity]) {
      expect(response.status).toBe(200);
      expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(response.headers['content-type']).toMatch(/^text\/javascript|^application\/javascript/);
      expect(response.headers.vary).toMatch(/accept-encoding/i);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers.etag).toBeDefined();
    }
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.body.length).toBeLessThan(file.length);
    expect(brotliDecompressSync(br.body).equals(file)).toBe(true);
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.body).equals(file)).toBe(true);
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.body.equals(file)).toBe(true);
    expect(Number(identity.headers['content-length'])).toBe(file.length);
  });

  it('answers a missing asset, and what is not a page, with the JSON 404 and never HTML', async () => {
    for (const [method, target, headers] of [
      ['GET', '/assets/nope-123.js', HTML],
      ['GET', '/api/v1/nope', HTML],
      ['GET', '/api', HTML],
      ['GET', '/metrics', HTML],
      ['GET', '/chats/123', { accept: 'application/json' }],
      ['GET', '/logo.png', { accept: 'image/avif,image/webp,*/*;q=0.8', 'sec-fetch-dest': 'image' }],
      ['GET', '/.vite/manifest.json', { accept: 'application/json' }],
      ['POST', '/', HTML],
      ['DELETE', '/chats/123', HTML],
    ] as const) {
      const response = await raw(`${server.url}${target}`, { method, headers });
      expect(response.status, `${method} ${target}`).toBe(404);
      expect(response.headers['content-type'], `${method} ${target}`).toBe('application/json; charset=utf-8');
      expect(JSON.parse(response.body.toString()).error.code).toBe('E_NOT_FOUND');
    }
  });

  it('leaves /healthz, /readyz, the API and its reference page to the server', async () => {
    const health = await raw(`${server.url}/healthz`, { headers: HTML });
    expect(JSON.parse(health.body.toString())).toEqual({ status: 'ok' });
    const ready = await raw(`${server.url}/readyz`, { headers: HTML });
    expect(ready.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(ready.body.toString()).status).toMatch(/ready/);
    const openapi = await raw(`${server.url}/api/v1/openapi.json`, { headers: HTML });
    expect(openapi.status).toBe(200);
    expect(JSON.parse(openapi.body.toString()).openapi).toMatch(/^3\.1/);
    // The API reference page is the server's own, not the app.
    const docs = await raw(`${server.url}/api/docs/`, { headers: HTML });
    expect(docs.status).toBe(200);
    expect(docs.body.equals(indexHtml)).toBe(false);
    expect(docs.body.toString()).toMatch(/swagger/i);
    const unauthenticated = await raw(`${server.url}/api/v1/chats`, { headers: HTML });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers['content-type']).toMatch(/^application\/json/);
  });

  it('serves no web app with webApp: false (--no-web)', async () => {
    const apiOnly = await startTestServer(db.database.url, { webApp: false });
    try {
      const response = await raw(`${apiOnly.url}/`, { headers: HTML });
      expect(response.status).toBe(404);
      expect(JSON.parse(response.body.toString()).error.code).toBe('E_NOT_FOUND');
      expect((await raw(`${apiOnly.url}/${entryAsset}`)).status).toBe(404);
    } finally {
      await apiOnly.close();
    }
  });
});

describe('a chatd without the web app built', () => {
  it('still serves the API, warns, and answers pages 503 saying to run npm run build', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'chatd-no-web-'));
    const logs: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    );
    const app = createHttpServer({ logger });
    registerWebApp(app, { root: path.join(empty, 'dist'), logger });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const page = await raw(`${url}/chats/1`, { headers: HTML });
      expect(page.status).toBe(503);
      expect(page.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(page.body.toString()).toBe(WEB_APP_MISSING_MESSAGE);
      expect(page.body.toString()).toContain('npm run build');
      const api = await raw(`${url}/api/v1/nope`, { headers: HTML });
      expect(api.status).toBe(404);
      expect(JSON.parse(api.body.toString()).error.code).toBe('E_NOT_FOUND');
      expect((await raw(`${url}/healthz`)).status).toBe(200);
      expect(logs.some((line) => /"level":40/.test(line) && line.includes('npm run build'))).toBe(true);
    } finally {
      await app.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

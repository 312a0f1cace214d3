import { readFile } from 'node:fs/promises';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument, type OpenApiDocument } from '../../src/http/openapi-document.js';
import { registerReadinessRoute } from '../../src/http/readiness-route.js';
import { useTestDatabase } from '../support/test-database.js';
import { startTestApi, type TestApi } from './support/api-harness.js';

const COMMITTED_DOCUMENT = new URL('../../../client/openapi.json', import.meta.url);
const COMMITTED_TYPES = new URL('../../../client/src/generated/api.ts', import.meta.url);
const REGENERATE = 'run npm run generate:client, and commit packages/client/openapi.json and src/generated';

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  responses?: Record<string, unknown>;
}
type Paths = Record<string, Record<string, Operation>>;

/** As JSON carries it: no `undefined` members. */
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));

describe('the committed OpenAPI document and client types', () => {
  let built: OpenApiDocument;
  beforeAll(async () => {
    built = await buildOpenApiDocument();
  });

  it('packages/client/openapi.json is the document of the current code', async () => {
    const committed = JSON.parse(await readFile(COMMITTED_DOCUMENT, 'utf8'));
    expect(asJson(built), `the API changed: ${REGENERATE}`).toEqual(committed);
  });

  it('packages/client/src/generated/api.ts is what openapi-typescript makes of it', async () => {
    const committed = JSON.parse(await readFile(COMMITTED_DOCUMENT, 'utf8'));
    const generated = `${COMMENT_HEADER}${astToString(await openapiTS(committed))}`;
    expect(generated === (await readFile(COMMITTED_TYPES, 'utf8')), `stale client types: ${REGENERATE}`).toBe(
      true,
    );
  });
});

describe('GET /api/v1/openapi.json and /api/docs', () => {
  const db = useTestDatabase();
  let api: TestApi;
  const registered: string[] = [];
  let served: { openapi: string; paths: Paths; components: { securitySchemes: Record<string, unknown> } };

  beforeAll(async () => {
    api = await startTestApi(db.store, {
      beforeListen: (app) => {
        app.addHook('onRoute', (route) => {
          for (const method of [route.method].flat()) {
            if (method !== 'HEAD' && route.url.startsWith('/api/v1/'))
              registered.push(`${method} ${route.url}`);
          }
        });
        // As the server has it (the harness serves the API alone).
        registerReadinessRoute(app, async () => []);
      },
    });
    const response = await api.request('GET', '/api/v1/openapi.json');
    expect(response.status).toBe(200);
    served = response.json;
  });
  afterAll(() => api?.close());

  it('is served to anyone, and is the document that buildOpenApiDocument (chatd openapi) makes', async () => {
    expect(served).toEqual(asJson(await buildOpenApiDocument()));
    expect(served.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('has every route registered under /api/v1, with its method', () => {
    expect(registered.length).toBeGreaterThan(40);
    const documented = new Set(
      Object.entries(served.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    const expected = registered.map((route) => route.replace(/:(\w+)/g, '{$1}'));
    expect(expected.filter((route) => !documented.has(route))).toEqual([]);
    expect(documented).toContain('GET /healthz');
    expect(documented).toContain('GET /readyz');
  });

  it('gives every operation a unique camelCase operationId, a summary, tags, responses and its access', () => {
    const ids: string[] = [];
    for (const [path, operations] of Object.entries(served.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(operation.operationId, where).toMatch(/^[a-z][a-zA-Z]+$/);
        ids.push(operation.operationId!);
        expect(operation.summary, where).toBeTruthy();
        expect(operation.tags?.length, where).toBeGreaterThan(0);
        expect(
          Object.keys(operation.responses ?? {}).some((status) => /^2\d\d$/.test(status)),
          where,
        ).toBe(true);
        expect(Array.isArray(operation.security), where).toBe(true);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['listChats', 'createChat', 'sendMessage', 'streamChat']));
  });

  it('states the auth each operation needs: bearer token or session cookie, CSRF token on unsafe methods', () => {
    expect(Object.keys(served.components.securitySchemes).sort()).toEqual([
      'bearerToken',
      'csrfToken',
      'sessionCookie',
    ]);
    const { paths } = served;
    expect(paths['/api/v1/auth/login']!.post!.security).toEqual([]);
    expect(paths['/api/v1/openapi.json']!.get!.security).toEqual([]);
    expect(paths['/api/v1/chats']!.get!.security).toEqual([{ bearerToken: [] }, { sessionCookie: [] }]);
    expect(paths['/api/v1/chats']!.post!.security).toEqual([
      { bearerToken: [] },
      { sessionCookie: [], csrfToken: [] },
    ]);
    expect(Object.keys(paths['/api/v1/chat/providers']!.get!.responses!)).toEqual(
      expect.arrayContaining(['200', '401', '403']),
    );
    const stream = paths['/api/v1/chats/{id}/stream']!.get!.responses!['200'] as {
      content: Record<string, unknown>;
    };
    expect(Object.keys(stream.content)).toEqual(['text/event-stream']);
  });

  it('serves the API reference page at /api/docs to anyone, with its assets served locally', async () => {
    const page = await api.request('GET', '/api/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    // Offline: every script, stylesheet and icon comes from this server.
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThan(3);
    for (const asset of assets) {
      expect(asset, asset).toMatch(/^\/api\/docs\/static\//);
      const response = await api.request('GET', asset);
      expect(response.status, asset).toBe(200);
    }
    const initializer = await api.request('GET', '/api/docs/static/swagger-initializer.js');
    expect(initializer.status).toBe(200);
    expect(initializer.text).toContain('validatorUrl: null');
  });
});

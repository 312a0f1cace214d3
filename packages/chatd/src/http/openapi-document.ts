import { pino } from 'pino';
import { API_PREFIX, DEFAULT_API_OPTIONS, registerApiRoutes } from './api.js';
import { createAccessHooks } from './auth.js';
import { registerReadinessRoute } from './readiness-route.js';
import type { RouteContext } from './routes/route-context.js';
import { createHttpServer } from './server.js';

/** An OpenAPI document (3.1), as JSON. */
export type OpenApiDocument = { readonly openapi: string } & Record<string, unknown>;

/**
 * Builds the OpenAPI document of this build without a database or any other service: an app made by
 * `createHttpServer` (the probes and the reference page), `/readyz`, and the API routes registered by
 * `registerApiRoutes` — the same function the server uses — with {@link inertRouteContext}. Nothing
 * listens and no handler runs; the app is closed before this returns. `GET /api/v1/openapi.json` of a
 * running server serves the same document.
 */
export async function buildOpenApiDocument(): Promise<OpenApiDocument> {
  const app = createHttpServer({ logger: pino({ level: 'silent' }) });
  try {
    registerReadinessRoute(app, async () => []);
    app.register(async (api) => registerApiRoutes(api, inertRouteContext()), { prefix: API_PREFIX });
    await app.ready();
    return app.swagger() as unknown as OpenApiDocument;
  } finally {
    await app.close();
  }
}

/**
 * A route context for registration only. Route modules take what they need from it when they register
 * (for example `const { chatService } = deps`) but call nothing until a request comes; every dependency
 * here is an {@link inert} stand-in that throws if it is ever called, so a route that would use a
 * dependency at registration fails the document build loudly instead of reaching a database. The access
 * hooks are the real ones (their identity says each route's access level).
 */
function inertRouteContext(): RouteContext {
  const noLimit = async () => {};
  return {
    deps: inert('deps'),
    options: DEFAULT_API_OPTIONS,
    access: createAccessHooks(inert('store'), inert('sessions')),
    configAdmin: inert('configAdmin'),
    openStreams: inert('openStreams'),
    limits: { newChats: noLimit, messages: noLimit },
  };
}

/**
 * A stand-in for `name` whose properties are stand-ins too, and which throws when called (or when one of
 * its properties is): reading `deps.chatService` is fine, `deps.chatService.createChat()` is not. Not a
 * thenable, so it is never mistaken for a promise.
 */
function inert<T>(name: string): T {
  const fail = () => {
    throw new Error(`${name} is not available: this app only describes the API (buildOpenApiDocument)`);
  };
  return new Proxy(fail, {
    get: (_target, property) =>
      property === 'then' || typeof property === 'symbol' ? undefined : inert(`${name}.${property}`),
    apply: fail,
    construct: fail,
  }) as T;
}

/**
 * The document as `chatd openapi` writes it (and `packages/client/openapi.json` holds it): pretty-printed
 * JSON with the keys of every object sorted, so that the file changes only when the API does, whatever
 * order the routes were registered in. Arrays keep their order (it can matter: `required`, `enum`).
 */
export function formatOpenApiDocument(document: OpenApiDocument): string {
  return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

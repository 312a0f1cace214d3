import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { CredentialReader } from '../auth/credential-cache.js';
import { subscribeToRevocations } from '../auth/credential-revocations.js';
import type { PasswordLogin } from '../auth/password-login.js';
import type { PasswordHasher } from '../auth/passwords.js';
import type { SessionManager } from '../auth/sessions.js';
import type { ChatEventHub } from '../chat/chat-events.js';
import type { ChatService } from '../chat/chat-service.js';
import type { ChatConfigCache } from '../config/chat-config-cache.js';
import { ConfigAdmin } from '../config/config-admin.js';
import type { Store } from '../db/store.js';
import type { Pubsub } from '../pubsub/pubsub.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { type AccessHook, createAccessHooks } from './auth.js';
import { OpenStreams } from './open-streams.js';
import { type AccessLevel, describeRouteAccess } from './openapi.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerChatEditRoutes } from './routes/chat-edits.js';
import { registerChatStreamRoute } from './routes/chat-stream.js';
import { registerChatRoutes } from './routes/chats.js';
import { registerConfigRoutes } from './routes/config.js';
import { registerModelConfigRoutes } from './routes/model-configs.js';
import { registerOpenApiDocumentRoute } from './routes/openapi-document.js';
import { registerProviderRoutes } from './routes/providers.js';
import type { ApiInstance, RouteContext } from './routes/route-context.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerUsageRoutes } from './routes/usage.js';
import { registerUserRoutes } from './routes/users.js';
import { createUserRateLimits } from './user-rate-limits.js';

/** The prefix of every API route. */
export const API_PREFIX = '/api/v1';

/** What the API is built on (the composition root creates each once per process). */
export interface ApiDependencies {
  readonly store: Store;
  /** Used through `chatService`; routes never invalidate it (the database triggers do, on every replica). */
  readonly configCache: ChatConfigCache;
  readonly chatService: ChatService;
  /** Must be started (`events.start()`) for streams to see events published by other replicas. */
  readonly events: ChatEventHub;
  /** Encrypts provider API keys; the API never returns or logs them. */
  readonly secretBox: SecretBox;
  readonly logger: Logger;
  /** Hashes passwords (user creation, password changes). */
  readonly passwords: PasswordHasher;
  readonly sessions: SessionManager;
  readonly login: PasswordLogin;
  /** Carries the database's `auth:revoked` notifications, which close the streams of ended credentials. */
  readonly pubsub: Pubsub;
  /** Where requests' tokens and sessions are read (a started `CredentialCache`); default the store. */
  readonly credentials?: CredentialReader;
}

/** Options of {@link registerApi}; durations in ms. */
export interface ApiOptions {
  /** How often an idle event stream sends a `: keepalive` comment; default 15000; 0 disables. */
  readonly streamHeartbeatMs?: number;
  /** Unsent bytes after which a stream to a slow client is ended (it resumes on reconnect); default 1 MiB. */
  readonly streamMaxBufferedBytes?: number;
  /** Streams one user may hold open on this replica; default 20. */
  readonly maxStreamsPerUser?: number;
  /** Chats one user may create per minute on this replica; default 30; 0 disables the limit. */
  readonly newChatsPerMinute?: number;
  /** Messages (and retries) one user may send per minute on this replica; default 60; 0 disables. */
  readonly messagesPerMinute?: number;
  /** Mark the session cookie `Secure` even over plain HTTP (behind a TLS proxy); default false (HTTPS sets it). */
  readonly secureCookies?: boolean;
}

/** {@link ApiOptions} with defaults filled in. */
export type ResolvedApiOptions = Readonly<Required<ApiOptions>>;

export const DEFAULT_API_OPTIONS: ResolvedApiOptions = Object.freeze({
  streamHeartbeatMs: 15_000,
  streamMaxBufferedBytes: 1024 * 1024,
  maxStreamsPerUser: 20,
  newChatsPerMinute: 30,
  messagesPerMinute: 60,
  secureCookies: false,
});

/**
 * Registers every route of the HTTP API (v1, see docs/design.md) under {@link API_PREFIX} on an app made
 * by `createHttpServer` (which provides the error answers, the JSON-only body parsing, the body limit, the
 * zod validation and the OpenAPI collector). Registration completes with `app.ready()` or `app.listen()`.
 *
 * Every route declares its access hook (`requireUser` or `requireAdmin`); registering a route without
 * one fails, so no route is public by omission. Open event streams are ended when the app closes.
 */
export function registerApi(app: FastifyInstance, deps: ApiDependencies, options: ApiOptions = {}): void {
  const resolved = resolveApiOptions(options);
  const access = createAccessHooks(deps.store, deps.sessions, deps.credentials);
  const openStreams = new OpenStreams(
    { store: deps.store, logger: deps.logger },
    { maxPerUser: resolved.maxStreamsPerUser, sessionIdleTimeoutMs: deps.sessions.options.idleTimeoutMs },
  );
  app.register(
    async (api) => {
      await api.register(rateLimit, { global: false });
      const context: RouteContext = {
        deps,
        options: resolved,
        access,
        configAdmin: new ConfigAdmin({ store: deps.store, secretBox: deps.secretBox }),
        openStreams,
        limits: createUserRateLimits(api, resolved),
      };
      let stopRevocations: (() => Promise<void>) | undefined;
      api.addHook('onReady', async () => {
        stopRevocations = await subscribeToRevocations(deps.pubsub, (revocation) =>
          openStreams.revoke(revocation),
        );
      });
      // Streams never end by themselves: without this, close() would wait for every client to leave.
      api.addHook('preClose', async () => {
        openStreams.closeAll();
      });
      api.addHook('onClose', async () => {
        await stopRevocations?.();
      });
      registerApiRoutes(api, context);
    },
    { prefix: API_PREFIX },
  );
}

/**
 * Registers the routes of the API on `api`, the scope under {@link API_PREFIX}, with their schemas, and
 * checks that each declares exactly one access hook of `context.access` (whose level its OpenAPI
 * operation then states: see `describeRouteAccess`). Registration only closes over `context`; handlers
 * use it when they run. That is what lets `buildOpenApiDocument` register them without a database.
 */
export function registerApiRoutes(api: FastifyInstance, context: RouteContext): void {
  const { access } = context;
  const levels = new Map<AccessHook, AccessLevel>([
    [access.allowAnyone, 'anyone'],
    [access.requireUser, 'user'],
    [access.requireAdmin, 'admin'],
  ]);
  api.decorateRequest('user', null);
  api.addHook('onRoute', (route) => describeRouteAccess(route, accessLevelOf(route, levels)));
  const routes: ApiInstance = api.withTypeProvider<ZodTypeProvider>();
  registerAuthRoutes(routes, context);
  registerUserRoutes(routes, context);
  registerTokenRoutes(routes, context);
  registerUsageRoutes(routes, context);
  registerProviderRoutes(routes, context);
  registerModelConfigRoutes(routes, context);
  registerConfigRoutes(routes, context);
  registerChatRoutes(routes, context);
  registerChatEditRoutes(routes, context);
  registerChatStreamRoute(routes, context);
  registerOpenApiDocumentRoute(routes, context);
}

function accessLevelOf(route: RouteOptions, levels: ReadonlyMap<AccessHook, AccessLevel>): AccessLevel {
  const declared = [route.onRequest ?? []].flat() as unknown[];
  const found = declared.flatMap((hook) => levels.get(hook as AccessHook) ?? []);
  if (found.length !== 1) {
    throw new Error(`API route ${String(route.method)} ${route.url} must declare exactly one access hook`);
  }
  return found[0]!;
}

function resolveApiOptions(options: ApiOptions): ResolvedApiOptions {
  const resolved = { ...DEFAULT_API_OPTIONS, ...withoutUndefined(options) };
  if (!(Number.isFinite(resolved.streamHeartbeatMs) && resolved.streamHeartbeatMs >= 0)) {
    throw new RangeError(
      `streamHeartbeatMs must be a duration in ms >= 0, got ${resolved.streamHeartbeatMs}`,
    );
  }
  if (!(Number.isInteger(resolved.streamMaxBufferedBytes) && resolved.streamMaxBufferedBytes > 0)) {
    throw new RangeError(
      `streamMaxBufferedBytes must be a positive integer, got ${resolved.streamMaxBufferedBytes}`,
    );
  }
  for (const name of ['maxStreamsPerUser', 'newChatsPerMinute', 'messagesPerMinute'] as const) {
    const value = resolved[name];
    const least = name === 'maxStreamsPerUser' ? 1 : 0;
    if (!(Number.isInteger(value) && value >= least)) {
      throw new RangeError(`${name} must be an integer >= ${least}, got ${value}`);
    }
  }
  return Object.freeze(resolved);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

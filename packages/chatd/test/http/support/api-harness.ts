import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type AuthServicesOptions, createAuthServices } from '../../../src/auth/auth-services.js';
import { PasswordHasher } from '../../../src/auth/passwords.js';
import { createUserWithToken } from '../../../src/auth/users.js';
import { ChatEventHub } from '../../../src/chat/chat-events.js';
import { ChatService } from '../../../src/chat/chat-service.js';
import { TurnInterrupts } from '../../../src/chat/turn-interrupts.js';
import { ChatConfigCache } from '../../../src/config/chat-config-cache.js';
import type { UserRole } from '../../../src/db/rows.js';
import type { Store } from '../../../src/db/store.js';
import { type ApiDependencies, type ApiOptions, registerApi } from '../../../src/http/api.js';
import { createHttpServer, type HttpServerOptions } from '../../../src/http/server.js';
import { createLogger } from '../../../src/logging/logger.js';
import { MemoryPubsub } from '../../../src/pubsub/memory-pubsub.js';
import type { Pubsub } from '../../../src/pubsub/pubsub.js';
import { SecretBox } from '../../../src/secrets/secret-box.js';

/** A running app on loopback with everything the API needs, built the way the server builds it. */
export interface TestApi {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly deps: ApiDependencies;
  readonly pubsub: Pubsub;
  /** Every log line written so far (level trace: everything). */
  readonly logs: string[];
  /** Sends a request; see {@link ApiRequest}. */
  request(method: string, path: string, init?: ApiRequest): Promise<ApiResponse>;
  close(): Promise<void>;
}

/** A request: `body` is JSON-encoded unless `rawBody` is given. */
export interface ApiRequest {
  token?: string | undefined;
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  readonly json: any;
}

export interface TestApiOptions extends ApiOptions {
  readonly bodyLimit?: number;
  /** Other options of the HTTP server (timeouts). */
  readonly http?: Omit<HttpServerOptions, 'logger' | 'bodyLimit'>;
  /** Defaults to a fresh MemoryPubsub (closed with the app). */
  readonly pubsub?: Pubsub;
  readonly secretBox?: SecretBox;
  /** Lets a test add routes before the app listens. */
  readonly beforeListen?: (app: FastifyInstance) => void;
  /** Password, session and login settings; passwords are hashed at a test cost (fast) unless given. */
  readonly auth?: AuthServicesOptions;
}

/** A scrypt cost that keeps tests fast (the format and code path are the production ones). */
export const TEST_PASSWORD_COST = { logN: 10 } as const;

/** Starts the API on an ephemeral loopback port. */
export async function startTestApi(store: Store, options: TestApiOptions = {}): Promise<TestApi> {
  const logs: string[] = [];
  const logger = createLogger(
    'trace',
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const ownPubsub = options.pubsub === undefined;
  const pubsub = options.pubsub ?? new MemoryPubsub();
  const configCache = new ChatConfigCache(store);
  const events = new ChatEventHub({ pubsub, replicaId: randomUUID(), logger });
  await events.start();
  const interrupts = new TurnInterrupts(pubsub);
  await interrupts.start();
  const chatService = new ChatService({ store, configCache, events, interrupts });
  const auth = createAuthServices(store, { passwords: TEST_PASSWORD_COST, ...options.auth });
  const deps: ApiDependencies = {
    store,
    configCache,
    chatService,
    events,
    secretBox: options.secretBox ?? new SecretBox(randomBytes(32)),
    logger,
    passwords: auth.passwords,
    sessions: auth.sessions,
    login: auth.login,
    pubsub,
  };
  const app = createHttpServer({
    logger,
    // Every response is checked against its documented schema (a mismatch is a logged 500).
    validateResponses: true,
    ...options.http,
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
  });
  registerApi(app, deps, options);
  options.beforeListen?.(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('not listening');
  const url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    app,
    deps,
    pubsub,
    logs,
    request: (method, path, init = {}) => sendRequest(url, method, path, init),
    async close() {
      await app.close();
      await events.stop();
      await interrupts.stop();
      if (ownPubsub) await pubsub.close();
    },
  };
}

async function sendRequest(
  base: string,
  method: string,
  path: string,
  init: ApiRequest,
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  let body: string | Buffer | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A user with a token. */
export interface TestUser {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  readonly token: string;
}

let userSequence = 0;

/** The password every test user made with {@link createTestUser} (`withPassword`) has. */
export const TEST_PASSWORD = 'correct horse battery staple';

/** Creates a user with a unique name and its token, and the password {@link TEST_PASSWORD} when asked. */
export async function createTestUser(
  store: Store,
  role: UserRole,
  prefix: string = role,
  options: { withPassword?: boolean } = {},
): Promise<TestUser> {
  userSequence += 1;
  const username = `${prefix}-${userSequence}-${randomBytes(3).toString('hex')}`;
  const password = options.withPassword ? TEST_PASSWORD : undefined;
  const { user, token } = await createUserWithToken(
    store,
    { username, role, password },
    new PasswordHasher(TEST_PASSWORD_COST),
  );
  return { id: user.id, username, role, token };
}

/** A logged-in browser: the session cookie (as a `Cookie` header value) and the CSRF token. */
export interface TestSession {
  readonly cookie: string;
  readonly csrfToken: string;
  /** Headers for an unsafe request on this session: the cookie and the CSRF token. */
  readonly headers: Record<string, string>;
}

/** Logs in through `POST /auth/login` and returns the session. Fails the test unless it is a 200. */
export async function logIn(
  baseUrl: string,
  username: string,
  password = TEST_PASSWORD,
): Promise<TestSession> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { csrf_token: string };
  const setCookie = response.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';', 1)[0]!;
  return { cookie, csrfToken: body.csrf_token, headers: { cookie, 'x-csrf-token': body.csrf_token } };
}

/** The admin, a member and another member every API test needs. */
export async function createTestUsers(
  store: Store,
): Promise<{ admin: TestUser; member: TestUser; other: TestUser }> {
  return {
    admin: await createTestUser(store, 'admin'),
    member: await createTestUser(store, 'member'),
    other: await createTestUser(store, 'member', 'other'),
  };
}

/** Creates a builtin provider and an enabled model config through the store (fixtures, not under test). */
export async function seedModelConfig(store: Store): Promise<{ providerId: string; modelConfigId: string }> {
  const provider = await store.insertChatProvider({
    provider: 'builtin',
    displayName: `Builtin ${randomBytes(3).toString('hex')}`,
    apiKeyEncrypted: null,
    baseUrl: null,
    enabled: true,
  });
  const config = await store.insertChatModelConfig({
    providerId: provider.id,
    model: 'echo',
    displayName: 'Echo',
    enabled: true,
    isDefault: false,
    contextLimit: 4096,
    options: {},
  });
  return { providerId: provider.id, modelConfigId: config.id };
}

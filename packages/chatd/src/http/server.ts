import type { Socket } from 'node:net';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { CHATD_VERSION } from '../version.js';
import { handleClientError, handleHttpError, handleUnknownRoute } from './error-handler.js';
import { registerOpenApi } from './openapi.js';
import { DEFAULT_MAX_DISCARDED_BODY_BYTES, discardRequestBody } from './request-drain.js';
import { healthSchema } from './schemas/health.js';
import { jsonResponse } from './schemas/responses.js';
import { createSerializerCompiler, zodValidatorCompiler } from './zod-compilers.js';

/** The default largest request body: 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** The default timeouts of {@link HttpServerOptions}, in ms. */
export const DEFAULT_HTTP_TIMEOUTS = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /**
   * Longer than the idle timeout of the usual reverse proxies and load balancers (60 s): the proxy closes
   * an idle connection first, so it never sends a request on one this server is closing (a 502).
   */
  keepAliveTimeoutMs: 72_000,
});

/** Options for {@link createHttpServer}. */
export interface HttpServerOptions {
  readonly logger: Logger;
  /** Largest accepted request body, in bytes; default 1 MiB. Larger bodies are answered 413. */
  readonly bodyLimit?: number;
  /**
   * How long a request's headers may take to arrive, from its first byte; default 10 s. Past it the
   * client is answered 408 and the connection closed (a client that trickles its headers: slowloris).
   */
  readonly headersTimeoutMs?: number;
  /**
   * How long a whole request, headers and body, may take to arrive; default 30 s; at least the headers
   * timeout. Past it: 408 and the connection closed. It bounds receiving only, never the answer: a chat
   * stream stays open as long as its client reads it.
   */
  readonly requestTimeoutMs?: number;
  /** How long a keep-alive connection may stay idle between requests; default 72 s. */
  readonly keepAliveTimeoutMs?: number;
  /**
   * The most of an unread request body read and discarded so that an early error answer (413, 401)
   * reaches a client still sending; default 16 MiB. See `request-drain.ts`.
   */
  readonly maxDiscardedBodyBytes?: number;
  /**
   * The reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed: comma-separated
   * addresses or CIDRs, or a hop count (Fastify's `trustProxy`). Default: none (the headers are ignored,
   * so a client cannot choose its own address for the login throttle).
   */
  readonly trustProxy?: string | number | false;
  /**
   * Parse every response body with its route's response schema, and answer 500 (logged) when one does
   * not match; default false (production serializes with plain `JSON.stringify`). The test harnesses turn
   * it on, so the suite checks the documented schemas against real responses.
   */
  readonly validateResponses?: boolean;
}

/** {@link HttpServerOptions} with defaults applied and checked; frozen. */
export type ResolvedHttpServerOptions = Readonly<Required<HttpServerOptions>>;

/**
 * Applies defaults and checks every limit. @throws {RangeError} naming the option: not a positive
 * integer, or a headers timeout longer than the request timeout (Node refuses that).
 */
export function resolveHttpServerOptions(options: HttpServerOptions): ResolvedHttpServerOptions {
  const resolved: ResolvedHttpServerOptions = Object.freeze({
    logger: options.logger,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_HTTP_TIMEOUTS.keepAliveTimeoutMs,
    maxDiscardedBodyBytes: options.maxDiscardedBodyBytes ?? DEFAULT_MAX_DISCARDED_BODY_BYTES,
    trustProxy: options.trustProxy ?? false,
    validateResponses: options.validateResponses ?? false,
  });
  for (const name of [
    'bodyLimit',
    'headersTimeoutMs',
    'requestTimeoutMs',
    'keepAliveTimeoutMs',
    'maxDiscardedBodyBytes',
  ] as const) {
    const value = resolved[name];
    if (!(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`${name} must be a positive integer, got ${String(options[name])}`);
    }
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new RangeError(
      `the headers timeout (${resolved.headersTimeoutMs} ms) must not be longer than the request timeout (${resolved.requestTimeoutMs} ms)`,
    );
  }
  return resolved;
}

/**
 * The Fastify instance with chatd's conventions: request logging through the redacting logger, the body
 * limit, JSON as the only request body type (anything else is 415), every error answered as
 * `{"error": {"code", "message"}}` by one handler (see `error-handler.ts`), the timeouts for slow
 * clients, and `GET /healthz`. The API is added with `registerApi` (see `api.ts`).
 *
 * @throws {RangeError} for options that {@link resolveHttpServerOptions} refuses.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const resolved = resolveHttpServerOptions(options);
  // Node checks the headers and request timeouts on a timer (every 30 s by default), so a timeout fires
  // up to one interval late: check often enough that a timeout means what it says, within a quarter.
  const checkingIntervalMs = Math.max(10, Math.min(1_000, Math.floor(resolved.headersTimeoutMs / 4)));
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: resolved.bodyLimit,
    return503OnClosing: true,
    // A hop count is supported at run time (lib/request.js) but missing from Fastify's types.
    trustProxy: resolved.trustProxy as string | boolean,
    requestTimeout: resolved.requestTimeoutMs,
    keepAliveTimeout: resolved.keepAliveTimeoutMs,
    http: {
      headersTimeout: resolved.headersTimeoutMs,
      requestTimeout: resolved.requestTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs,
    },
    // A request timeout, a malformed request line, headers too large: answered before Fastify has a
    // request, in the same JSON shape.
    clientErrorHandler: (error: Error, socket: Socket) => handleClientError(error, socket, options.logger),
    // Errors raised before routing (a malformed URL, an over-long parameter) get the same answer shape.
    frameworkErrors: (error, request, reply) => {
      answerError(error, request, reply, resolved.maxDiscardedBodyBytes);
    },
  });
  acceptOnlyJsonBodies(app as unknown as FastifyInstance);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    answerError(error, request, reply, resolved.maxDiscardedBodyBytes);
  });
  app.setNotFoundHandler(handleUnknownRoute);
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(createSerializerCompiler(resolved.validateResponses));
  // Before every route: the document is made of the routes registered after it.
  registerOpenApi(app as unknown as FastifyInstance, { version: CHATD_VERSION });
  app.register(async (root) => {
    root.withTypeProvider<ZodTypeProvider>().get(
      '/healthz',
      {
        schema: {
          operationId: 'getHealth',
          summary: 'Liveness: the process answers',
          tags: ['meta'],
          security: [],
          response: { 200: jsonResponse('The process is alive', healthSchema) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );
  });
  return app as unknown as FastifyInstance;
}

/**
 * Answers an error with {@link handleHttpError}, after reading what is left of the request body when
 * the error came before the body was read (a body over the limit, a 401 or 415 before the body): the
 * answer then reaches a client that is still sending instead of a reset (see `request-drain.ts`). A body
 * too long to discard is answered at once, on a connection that is then closed.
 */
function answerError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  maxDiscardBytes: number,
): void {
  if (request.raw.complete) {
    handleHttpError(error, request, reply);
    return;
  }
  void discardRequestBody(request.raw, maxDiscardBytes).then((drained) => {
    // A connection that carries the rest of an unread body cannot take another request.
    if (!drained) reply.header('connection', 'close');
    handleHttpError(error, request, reply);
  });
}

/**
 * JSON is the only body type: the text/plain parser is removed (a text body is 415, not a string that
 * fails validation later), and an empty body with `Content-Type: application/json` counts as no body, so
 * clients that always send the header can POST to routes that take none. Prototype-poisoning keys make
 * the body malformed.
 */
function acceptOnlyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
}

/** A `host:port` listen address. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` (`[::1]:3000` for IPv6; port 0 picks a free one). Throws a readable error. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new Error(`'${value}' is not a host:port address (for example 127.0.0.1:3000 or [::1]:3000)`);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/** The URL clients use for a listening address. */
export function httpUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

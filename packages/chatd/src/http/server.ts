import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { handleHttpError, handleUnknownRoute } from './error-handler.js';

/** The default largest request body: 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Options for {@link createHttpServer}. */
export interface HttpServerOptions {
  readonly logger: Logger;
  /** Largest accepted request body, in bytes; default 1 MiB. Larger bodies are answered 413. */
  readonly bodyLimit?: number;
}

/**
 * The Fastify instance with chatd's conventions: request logging through the redacting logger, the body
 * limit, JSON as the only request body type (anything else is 415), every error answered as
 * `{"error": {"code", "message"}}` by one handler (see `error-handler.ts`), and `GET /healthz`. The API is
 * added with `registerApi` (see `api.ts`).
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!(Number.isInteger(bodyLimit) && bodyLimit > 0)) {
    throw new RangeError(`bodyLimit must be a positive integer (bytes), got ${String(options.bodyLimit)}`);
  }
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit,
    return503OnClosing: true,
    // Errors raised before routing (a malformed URL, an over-long parameter) get the same answer shape.
    frameworkErrors: (error, request, reply) => {
      handleHttpError(error, request, reply);
    },
  });
  acceptOnlyJsonBodies(app as unknown as FastifyInstance);
  app.setErrorHandler(handleHttpError);
  app.setNotFoundHandler(handleUnknownRoute);
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app as unknown as FastifyInstance;
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

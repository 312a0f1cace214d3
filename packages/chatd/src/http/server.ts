import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** Options for {@link createHttpServer}. */
export interface HttpServerOptions {
  readonly logger: Logger;
  /** Largest accepted request body, in bytes; default 1 MiB. */
  readonly bodyLimit?: number;
}

/**
 * The Fastify instance with chatd's conventions (request logging through the redacting logger, body
 * limit) and `GET /healthz`. Routes are registered by the caller.
 */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app as unknown as FastifyInstance;
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

import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { RateLimitedError } from '../errors.js';
import type { ResolvedApiOptions } from './api.js';

/** `preHandler` hooks that limit how fast one user starts paid work. */
export interface UserRateLimits {
  /** `POST /chats`. */
  readonly newChats: preHandlerAsyncHookHandler;
  /** `POST /chats/{id}/messages` and the other routes that start a turn (retry). */
  readonly messages: preHandlerAsyncHookHandler;
}

const noLimit: preHandlerAsyncHookHandler = async () => {};

/**
 * Per-user limits, counted per replica in memory by `@fastify/rate-limit` (behind a load balancer over N
 * replicas a user gets up to N times the limit; PostgreSQL is kept off this path on purpose). Keyed by
 * user id, so they run as `preHandler`, after authentication. Answered 429 `E_RATE_LIMITED` with
 * `Retry-After`.
 */
export function createUserRateLimits(app: FastifyInstance, options: ResolvedApiOptions): UserRateLimits {
  const perMinute = (max: number, what: string): preHandlerAsyncHookHandler => {
    if (max === 0) return noLimit;
    return app.rateLimit({
      max,
      timeWindow: 60_000,
      keyGenerator: (request) => `${what}:${request.user?.id ?? request.ip}`,
      // Thrown by the plugin: the error handler answers it (status, body and Retry-After).
      errorResponseBuilder: (_request, context) =>
        new RateLimitedError(`at most ${max} ${what} per minute; try again in ${context.after}`, context.ttl),
    }) as preHandlerAsyncHookHandler;
  };
  return Object.freeze({
    newChats: perMinute(options.newChatsPerMinute, 'new chats'),
    messages: perMinute(options.messagesPerMinute, 'messages'),
  });
}

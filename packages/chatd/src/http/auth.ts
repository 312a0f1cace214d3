import type { FastifyRequest } from 'fastify';
import { type AuthenticatedUser, authenticateApiToken } from '../auth/api-tokens.js';
import type { Store } from '../db/store.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by an access hook of {@link createAccessHooks}; null on routes without one. */
    user: AuthenticatedUser | null;
  }
}

/** An `onRequest` hook that authenticates the caller and checks what it may do. */
export type AccessHook = (request: FastifyRequest) => Promise<void>;

/** The access hooks every API route declares exactly one of. */
export interface AccessHooks {
  /** Any user with a valid token; 401 otherwise. */
  readonly requireUser: AccessHook;
  /** Admins only: 401 without a valid token, 403 for members. */
  readonly requireAdmin: AccessHook;
}

/**
 * Creates the access hooks, which run `onRequest`: before the body is read, so a caller without a valid
 * token learns nothing (not even whether its body would have been valid) and costs no body parsing.
 * Missing, malformed, unknown and wrong tokens are all answered alike: 401 with `WWW-Authenticate: Bearer`.
 */
export function createAccessHooks(store: Store): AccessHooks {
  const authenticate = async (request: FastifyRequest): Promise<AuthenticatedUser> => {
    const token = bearerToken(request.headers.authorization);
    const user = token === undefined ? undefined : await authenticateApiToken(store, token);
    if (!user) throw new UnauthorizedError();
    request.user = user;
    return user;
  };
  return Object.freeze({
    requireUser: async (request: FastifyRequest) => {
      await authenticate(request);
    },
    requireAdmin: async (request: FastifyRequest) => {
      const user = await authenticate(request);
      if (user.role !== 'admin') throw new ForbiddenError();
    },
  });
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/**
 * The authenticated caller of a route guarded by an access hook.
 * @throws {UnauthorizedError} if the route has no access hook (a programming error answered safely).
 */
export function userOf(request: FastifyRequest): AuthenticatedUser {
  if (!request.user) throw new UnauthorizedError();
  return request.user;
}

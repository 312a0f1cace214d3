import { parse as parseCookies } from 'cookie';
import type { FastifyRequest } from 'fastify';
import { authenticateApiToken } from '../auth/api-tokens.js';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { type CredentialReader, storeCredentialReader } from '../auth/credential-cache.js';
import { csrfTokenMatches, type SessionManager } from '../auth/sessions.js';
import type { Store } from '../db/store.js';
import { CsrfError, ForbiddenError, UnauthorizedError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by an access hook of {@link createAccessHooks}; null on public routes. */
    user: AuthenticatedUser | null;
  }
}

/** The name of the session cookie that password login sets. */
export const SESSION_COOKIE = 'chatd_session';
/** The header cookie-authenticated unsafe requests carry the CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** An `onRequest` hook that authenticates the caller and checks what it may do. */
export type AccessHook = (request: FastifyRequest) => Promise<void>;

/** The access hooks every API route declares exactly one of. */
export interface AccessHooks {
  /** Anyone, authenticated or not (login, the OpenAPI document): declared so no route is public by omission. */
  readonly allowAnyone: AccessHook;
  /** Any user with a valid token or session; 401 otherwise. */
  readonly requireUser: AccessHook;
  /** Admins only: 401 without a valid credential, 403 for members. */
  readonly requireAdmin: AccessHook;
}

/** Methods that change nothing: they need no CSRF token. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Creates the access hooks, which run `onRequest`: before the body is read, so a caller without a valid
 * credential learns nothing (not even whether its body would have been valid) and costs no body parsing.
 *
 * A request with an `Authorization` header is judged by it alone (a bearer token needs no CSRF token:
 * browsers never add one by themselves). Without one, the session cookie counts, and an unsafe method
 * must then carry `X-CSRF-Token` (403 `E_CSRF` otherwise). Missing, malformed, unknown, wrong, expired and
 * disabled credentials are all answered alike: 401 with `WWW-Authenticate: Bearer`.
 */
export function createAccessHooks(
  store: Store,
  sessions: SessionManager,
  credentials: CredentialReader = storeCredentialReader(store),
): AccessHooks {
  const authenticate = async (request: FastifyRequest): Promise<AuthenticatedUser> => {
    const user = await authenticateRequest(request, store, sessions, credentials);
    if (!user)
      throw new UnauthorizedError(
        'a valid API token (Authorization: Bearer <token>) or a login session is required',
      );
    if (user.credential.kind === 'session' && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (!csrfTokenMatches(typeof sent === 'string' ? sent : undefined, user.credential.csrfToken)) {
        throw new CsrfError();
      }
    }
    request.user = user;
    return user;
  };
  return Object.freeze({
    allowAnyone: async () => {},
    requireUser: async (request: FastifyRequest) => {
      await authenticate(request);
    },
    requireAdmin: async (request: FastifyRequest) => {
      const user = await authenticate(request);
      if (user.role !== 'admin') throw new ForbiddenError();
    },
  });
}

async function authenticateRequest(
  request: FastifyRequest,
  store: Store,
  sessions: SessionManager,
  credentials: CredentialReader,
): Promise<AuthenticatedUser | undefined> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const token = bearerToken(header);
    return token === undefined ? undefined : authenticateApiToken(store, token, credentials);
  }
  const cookie = sessionCookieOf(request);
  return cookie === undefined ? undefined : sessions.authenticate(cookie);
}

/** The session cookie's value, or undefined. */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  return parseCookies(header)[SESSION_COOKIE];
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

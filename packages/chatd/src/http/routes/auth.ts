import { serialize as serializeCookie } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InvalidInputError } from '../../errors.js';
import { SESSION_COOKIE, userOf } from '../auth.js';
import { presentUser, presentUserAccount } from '../presenters.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import { loginResultSchema, sessionInfoSchema } from '../schemas/users.js';
import { text } from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';

/** No minimum here: a short password is merely wrong. The maximum bounds the work of a guess. */
const loginBody = z.strictObject({
  username: text().min(1).max(200),
  password: text().min(1).max(4096),
});

/**
 * Password login under `/auth`: `POST /auth/login` (anyone) sets the session cookie and returns the CSRF
 * token; `POST /auth/logout` ends the caller's session; `GET /auth/session` tells a page reloaded by a
 * logged-in person who they are and their CSRF token (the cookie is HttpOnly, so the page cannot read it).
 */
export function registerAuthRoutes(app: ApiInstance, { deps, access, options }: RouteContext): void {
  const setSessionCookie = (
    request: FastifyRequest,
    reply: FastifyReply,
    value: string,
    maxAgeMs: number,
  ) => {
    reply.header(
      'set-cookie',
      serializeCookie(SESSION_COOKIE, value, {
        httpOnly: true,
        // Lax: the cookie goes along when a person follows a link to chatd, never with another site's
        // POST; the CSRF token covers every unsafe method anyway.
        sameSite: 'lax',
        secure: options.secureCookies || request.protocol === 'https',
        path: '/',
        maxAge: Math.floor(maxAgeMs / 1000),
      }),
    );
  };

  app.post(
    '/auth/login',
    {
      onRequest: access.allowAnyone,
      schema: {
        operationId: 'login',
        summary: 'Log in with a password',
        description:
          'Sets the `chatd_session` cookie (HttpOnly, SameSite=Lax) and returns the CSRF token that every ' +
          'unsafe request of the session must send as `X-CSRF-Token`.',
        tags: ['auth'],
        body: loginBody,
        response: {
          200: jsonResponse('Logged in; the session cookie is set', loginResultSchema),
          401: errorResponse('Wrong username or password, or a disabled user (`E_UNAUTHORIZED`)'),
          429: errorResponse('Too many failed logins; try again later (`E_RATE_LIMITED`)'),
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const { user, session } = await deps.login.login(body.username, body.password, {
        address: request.ip,
        userAgent: request.headers['user-agent'],
      });
      setSessionCookie(request, reply, session.cookieValue, session.expiresAt.getTime() - Date.now());
      reply.header('cache-control', 'no-store');
      return {
        user: presentUserAccount(user),
        csrf_token: session.csrfToken,
        expires_at: session.expiresAt.toISOString(),
      };
    },
  );

  app.post(
    '/auth/logout',
    {
      onRequest: access.requireUser,
      schema: {
        operationId: 'logout',
        summary: 'End the login session',
        description:
          'Only for a session: an API token is revoked with `DELETE /api/v1/users/me/tokens/{id}`.',
        tags: ['auth'],
        response: {
          204: emptyResponse('The session ended; the cookie is cleared'),
          400: errorResponse('The caller used an API token, not a session (`E_INVALID_INPUT`)'),
        },
      },
    },
    async (request, reply) => {
      const { credential } = userOf(request);
      if (credential.kind !== 'session') {
        throw new InvalidInputError(
          'logout ends a login session; an API token is revoked with DELETE /api/v1/users/me/tokens/{id}',
        );
      }
      await deps.sessions.end(credential.id);
      setSessionCookie(request, reply, '', 0);
      return reply.code(204).send();
    },
  );

  app.get(
    '/auth/session',
    {
      onRequest: access.requireUser,
      schema: {
        operationId: 'getSession',
        summary: 'Who the caller is, and the CSRF token of their session',
        description: 'For a page reloaded by a logged-in person (the cookie is HttpOnly).',
        tags: ['auth'],
        response: { 200: jsonResponse('The caller and their session', sessionInfoSchema) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      reply.header('cache-control', 'no-store');
      const { credential } = user;
      return {
        user: presentUser(user),
        csrf_token: credential.kind === 'session' ? credential.csrfToken : null,
        expires_at: credential.expiresAt?.toISOString() ?? null,
      };
    },
  );
}

import { z } from 'zod';
import { issueApiToken, listApiTokens, revokeApiToken } from '../../auth/api-tokens.js';
import { NotFoundError } from '../../errors.js';
import { userOf } from '../auth.js';
import { presentToken } from '../presenters.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import { issuedTokenSchema, tokenListSchema } from '../schemas/users.js';
import { idParams, text, uuid } from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';
import { requireUserExists } from './users.js';

const DURATION_UNITS_S: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** `expires_in`: seconds, or a duration such as "90d", "12h". */
const expiresIn = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d{1,6}(s|m|h|d)$/, 'must be seconds or a duration such as "30d" or "12h"')
    .transform((value) => Number(value.slice(0, -1)) * DURATION_UNITS_S[value.at(-1)!]!),
]);
const createTokenBody = z.strictObject({
  name: text().trim().min(1).max(200),
  expires_in: expiresIn.optional(),
});
const tokenParams = z.strictObject({ id: uuid, token_id: uuid });

/**
 * API tokens under `/users/me/tokens` (a person's own) and `/users/{id}/tokens` (admins, anyone's). The
 * token itself appears once, in the creation answer; lists show names and dates only. A revoked token is
 * refused at once on every replica, and its open streams close.
 */
export function registerTokenRoutes(app: ApiInstance, { deps, access }: RouteContext): void {
  const user = { onRequest: access.requireUser };
  const admin = { onRequest: access.requireAdmin };
  const tags = ['tokens'];
  const noSuchToken = errorResponse('No such token (`E_NOT_FOUND`)');

  app.get(
    '/users/me/tokens',
    {
      ...user,
      schema: {
        operationId: 'listOwnTokens',
        summary: "The caller's API tokens",
        tags,
        response: { 200: jsonResponse('The tokens (names and dates only)', tokenListSchema) },
      },
    },
    async (request) => ({
      tokens: (await listApiTokens(deps.store, userOf(request).id)).map(presentToken),
    }),
  );

  app.post(
    '/users/me/tokens',
    {
      ...user,
      schema: {
        operationId: 'createOwnToken',
        summary: 'Create an API token for the caller',
        description: '`expires_in`: seconds, or a duration such as "90d" or "12h"; no expiry when absent.',
        tags,
        body: createTokenBody,
        response: { 201: jsonResponse('The token, shown this once', issuedTokenSchema) },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const lifetimeMs = body.expires_in === undefined ? undefined : body.expires_in * 1000;
      const issued = await issueApiToken(deps.store, userOf(request).id, body.name, lifetimeMs);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({
        id: issued.id,
        name: issued.name,
        token: issued.token,
        created_at: issued.createdAt.toISOString(),
        expires_at: issued.expiresAt?.toISOString() ?? null,
      });
    },
  );

  app.delete(
    '/users/me/tokens/:id',
    {
      ...user,
      schema: {
        operationId: 'revokeOwnToken',
        summary: "Revoke one of the caller's API tokens",
        description: 'Refused at once on every replica; its open streams close.',
        tags,
        params: idParams,
        response: { 204: emptyResponse('The token is revoked'), 404: noSuchToken },
      },
    },
    async (request, reply) => {
      if (!(await revokeApiToken(deps.store, userOf(request).id, request.params.id)))
        throw new NotFoundError('no such token');
      return reply.code(204).send();
    },
  );

  app.get(
    '/users/:id/tokens',
    {
      ...admin,
      schema: {
        operationId: 'listUserTokens',
        summary: "A user's API tokens",
        tags,
        params: idParams,
        response: {
          200: jsonResponse('The tokens (names and dates only)', tokenListSchema),
          404: errorResponse('No such user (`E_NOT_FOUND`)'),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      await requireUserExists(deps, id);
      return { tokens: (await listApiTokens(deps.store, id)).map(presentToken) };
    },
  );

  app.delete(
    '/users/:id/tokens/:token_id',
    {
      ...admin,
      schema: {
        operationId: 'revokeUserToken',
        summary: "Revoke a user's API token",
        description: 'Refused at once on every replica; its open streams close.',
        tags,
        params: tokenParams,
        response: { 204: emptyResponse('The token is revoked'), 404: noSuchToken },
      },
    },
    async (request, reply) => {
      const { params } = request;
      if (!(await revokeApiToken(deps.store, params.id, params.token_id)))
        throw new NotFoundError('no such token');
      return reply.code(204).send();
    },
  );
}

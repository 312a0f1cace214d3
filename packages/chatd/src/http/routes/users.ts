import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MAX_PASSWORD_LENGTH } from '../../auth/passwords.js';
import {
  changeOwnPassword,
  changeUserAccess,
  listUsers,
  MAX_USERS_PAGE,
  setUserPassword,
} from '../../auth/people.js';
import { createUserWithToken } from '../../auth/users.js';
import { USER_ROLES } from '../../db/rows.js';
import { NotFoundError } from '../../errors.js';
import { userOf } from '../auth.js';
import { presentUser, presentUserAccount } from '../presenters.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import { createdUserSchema, userAccountSchema, userPageSchema, userSchema } from '../schemas/users.js';
import { idParams, text } from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';

/** Lengths are checked by the password rules, which say what is expected; this only bounds the body. */
const password = text().max(MAX_PASSWORD_LENGTH * 4);

const createUserBody = z.strictObject({
  username: z.string(),
  role: z.enum(USER_ROLES),
  password: password.optional(),
});
const listUsersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_USERS_PAGE).default(50),
  cursor: z.string().max(400).optional(),
});
const updateUserBody = z
  .strictObject({ role: z.enum(USER_ROLES).optional(), disabled: z.boolean().optional() })
  .refine((body) => body.role !== undefined || body.disabled !== undefined, 'send role, disabled or both');
const ownPasswordBody = z.strictObject({ password, current_password: password.optional() });
const adminPasswordBody = z.strictObject({ password });

/**
 * People under `/users`: `GET /users/me` and `PUT /users/me/password` for anyone logged in; creating,
 * listing, changing and resetting the password of users for admins. Tokens are in `tokens.ts`.
 */
export function registerUserRoutes(app: ApiInstance, { deps, access }: RouteContext): void {
  const user = { onRequest: access.requireUser };
  const admin = { onRequest: access.requireAdmin };
  const tags = ['users'];
  const noSuchUser = errorResponse('No such user (`E_NOT_FOUND`)');

  app.get(
    '/users/me',
    {
      ...user,
      schema: {
        operationId: 'getCurrentUser',
        summary: 'The caller',
        tags,
        response: { 200: jsonResponse('The caller', userSchema) },
      },
    },
    async (request) => presentUser(userOf(request)),
  );

  app.put(
    '/users/me/password',
    {
      ...user,
      schema: {
        operationId: 'changeOwnPassword',
        summary: "Set the caller's password",
        description:
          '`current_password` is required when the caller already has one. Ends their other sessions.',
        tags,
        body: ownPasswordBody,
        response: { 204: emptyResponse('The password is set') },
      },
    },
    async (request, reply) => {
      const { body } = request;
      await changeOwnPassword(
        deps.store,
        deps.passwords,
        userOf(request),
        body.password,
        body.current_password,
      );
      return reply.code(204).send();
    },
  );

  app.post(
    '/users',
    {
      ...admin,
      schema: {
        operationId: 'createUser',
        summary: 'Create a user, with an API token',
        tags,
        body: createUserBody,
        response: {
          201: jsonResponse('The user and their first API token (shown once)', createdUserSchema),
          409: errorResponse('The username is taken (`E_CONFLICT`)'),
        },
      },
    },
    async (request, reply) => {
      const created = await createUserWithToken(deps.store, request.body, deps.passwords);
      return reply.code(201).send({ user: presentUserAccount(created.user), token: created.token });
    },
  );

  app.get(
    '/users',
    {
      ...admin,
      schema: {
        operationId: 'listUsers',
        summary: 'List users, a page at a time',
        tags,
        querystring: listUsersQuery,
        response: { 200: jsonResponse('A page of users', userPageSchema) },
      },
    },
    async (request) => {
      const page = await listUsers(deps.store, request.query);
      return { users: page.users.map(presentUserAccount), next_cursor: page.nextCursor ?? null };
    },
  );

  app.patch(
    '/users/:id',
    {
      ...admin,
      schema: {
        operationId: 'updateUser',
        summary: "Change a user's role, or disable them",
        description: "Disabling ends the user's sessions, tokens and streams.",
        tags,
        params: idParams,
        body: updateUserBody,
        response: {
          200: jsonResponse('The user', userAccountSchema),
          404: noSuchUser,
          409: errorResponse('The change would leave no enabled admin (`E_CONFLICT`)'),
        },
      },
    },
    async (request) =>
      presentUserAccount(
        await changeUserAccess(deps.store, userOf(request), request.params.id, request.body),
      ),
  );

  app.put(
    '/users/:id/password',
    {
      ...admin,
      schema: {
        operationId: 'setUserPassword',
        summary: "Reset a user's password",
        description: "Ends the user's sessions (but the one the admin is using).",
        tags,
        params: idParams,
        body: adminPasswordBody,
        response: { 204: emptyResponse('The password is set'), 404: noSuchUser },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // An admin resetting their own password keeps the session they are using.
      await setUserPassword(deps.store, deps.passwords, id, request.body.password, ownSessionId(request, id));
      return reply.code(204).send();
    },
  );
}

function ownSessionId(request: FastifyRequest, userId: string): string | undefined {
  const user = userOf(request);
  return user.id === userId && user.credential.kind === 'session' ? user.credential.id : undefined;
}

/** @throws {NotFoundError} unless the user exists. */
export async function requireUserExists(deps: RouteContext['deps'], userId: string): Promise<void> {
  if (!(await deps.store.getUserById(userId))) throw new NotFoundError('no such user');
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
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
import { idParams, parseRequestPart, text } from '../validation.js';
import type { RouteContext } from './route-context.js';

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
export function registerUserRoutes(app: FastifyInstance, { deps, access }: RouteContext): void {
  const admin = { onRequest: access.requireAdmin };

  app.get('/users/me', { onRequest: access.requireUser }, async (request) => presentUser(userOf(request)));

  app.put('/users/me/password', { onRequest: access.requireUser }, async (request, reply) => {
    const body = parseRequestPart(ownPasswordBody, request.body, 'body');
    await changeOwnPassword(
      deps.store,
      deps.passwords,
      userOf(request),
      body.password,
      body.current_password,
    );
    return reply.code(204).send();
  });

  app.post('/users', admin, async (request, reply) => {
    const body = parseRequestPart(createUserBody, request.body, 'body');
    const created = await createUserWithToken(deps.store, body, deps.passwords);
    return reply.code(201).send({ user: presentUserAccount(created.user), token: created.token });
  });

  app.get('/users', admin, async (request) => {
    const query = parseRequestPart(listUsersQuery, request.query, 'query');
    const page = await listUsers(deps.store, query);
    return { users: page.users.map(presentUserAccount), next_cursor: page.nextCursor ?? null };
  });

  app.patch('/users/:id', admin, async (request) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const body = parseRequestPart(updateUserBody, request.body, 'body');
    return presentUserAccount(await changeUserAccess(deps.store, userOf(request), id, body));
  });

  app.put('/users/:id/password', admin, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const body = parseRequestPart(adminPasswordBody, request.body, 'body');
    // An admin resetting their own password keeps the session they are using.
    await setUserPassword(deps.store, deps.passwords, id, body.password, ownSessionId(request, id));
    return reply.code(204).send();
  });
}

function ownSessionId(request: FastifyRequest, userId: string): string | undefined {
  const user = userOf(request);
  return user.id === userId && user.credential.kind === 'session' ? user.credential.id : undefined;
}

/** @throws {NotFoundError} unless the user exists. */
export async function requireUserExists(deps: RouteContext['deps'], userId: string): Promise<void> {
  if (!(await deps.store.getUserById(userId))) throw new NotFoundError('no such user');
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createUserWithToken } from '../../auth/users.js';
import { USER_ROLES } from '../../db/rows.js';
import { userOf } from '../auth.js';
import { presentCreatedUser, presentUser } from '../presenters.js';
import { parseRequestPart } from '../validation.js';
import type { RouteContext } from './route-context.js';

const createUserBody = z.strictObject({
  username: z.string(),
  role: z.enum(USER_ROLES),
});

/** `GET /users/me` (any user) and `POST /users` (admins: a user and its first token, shown once). */
export function registerUserRoutes(app: FastifyInstance, { deps, access }: RouteContext): void {
  app.get('/users/me', { onRequest: access.requireUser }, async (request) => presentUser(userOf(request)));

  app.post('/users', { onRequest: access.requireAdmin }, async (request, reply) => {
    const body = parseRequestPart(createUserBody, request.body, 'body');
    const created = await createUserWithToken(deps.store, body);
    return reply.code(201).send({ user: presentCreatedUser(created.user), token: created.token });
  });
}

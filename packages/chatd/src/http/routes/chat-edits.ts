import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { userOf } from '../auth.js';
import { presentChat, presentMessage } from '../presenters.js';
import { idParams, messageIdParam, noBody, parseRequestPart, text, uuid } from '../validation.js';
import type { RouteContext } from './route-context.js';

const renameBody = z.strictObject({ title: text().max(1000) });
const editBody = z.strictObject({ content: text() });
const messageParams = z.strictObject({ id: uuid, message_id: messageIdParam });

/**
 * Changes to a chat's history and title (owner only; others get 404): `PATCH /chats/{id}` renames,
 * `PATCH /chats/{id}/messages/{message_id}` edits a user message (what follows it is removed and the turn
 * runs again), `POST /chats/{id}/regenerate` runs the last answer again. Both reruns interrupt a running
 * turn first, and count against the messages limit: each starts a paid turn.
 */
export function registerChatEditRoutes(app: FastifyInstance, { deps, access, limits }: RouteContext): void {
  const { chatService } = deps;
  const user = { onRequest: access.requireUser };

  app.patch('/chats/:id', user, async (request) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const body = parseRequestPart(renameBody, request.body, 'body');
    return presentChat(await chatService.rename(userOf(request), id, body.title));
  });

  app.patch(
    '/chats/:id/messages/:message_id',
    { ...user, preHandler: limits.messages },
    async (request, reply) => {
      const params = parseRequestPart(messageParams, request.params, 'path');
      const body = parseRequestPart(editBody, request.body, 'body');
      const message = await chatService.editMessage(
        userOf(request),
        params.id,
        params.message_id,
        body.content,
      );
      return reply.code(202).send({ message: presentMessage(message) });
    },
  );

  app.post('/chats/:id/regenerate', { ...user, preHandler: limits.messages }, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    parseRequestPart(noBody, request.body, 'body');
    await chatService.regenerate(userOf(request), id);
    return reply.code(202).send();
  });
}

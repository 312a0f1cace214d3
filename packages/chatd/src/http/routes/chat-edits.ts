import { z } from 'zod';
import { userOf } from '../auth.js';
import { presentChat, presentMessage } from '../presenters.js';
import { chatSchema, editedMessageSchema } from '../schemas/chats.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import { idParams, messageIdParam, noBody, parseRequestPart, text, uuid } from '../validation.js';
import { noSuchChatResponse, rateLimitedResponse } from './chats.js';
import type { ApiInstance, RouteContext } from './route-context.js';

const renameBody = z.strictObject({ title: text().max(1000) });
const editBody = z.strictObject({ content: text() });
const messageParams = z.strictObject({ id: uuid, message_id: messageIdParam });

/**
 * Changes to a chat's history and title (owner only; others get 404): `PATCH /chats/{id}` renames,
 * `PATCH /chats/{id}/messages/{message_id}` edits a user message (what follows it is removed and the turn
 * runs again), `POST /chats/{id}/regenerate` runs the last answer again. Both reruns interrupt a running
 * turn first, and count against the messages limit: each starts a paid turn.
 */
export function registerChatEditRoutes(app: ApiInstance, { deps, access, limits }: RouteContext): void {
  const { chatService } = deps;
  const user = { onRequest: access.requireUser };
  const tags = ['chats'];

  app.patch(
    '/chats/:id',
    {
      ...user,
      schema: {
        operationId: 'renameChat',
        summary: 'Rename a chat',
        tags,
        params: idParams,
        body: renameBody,
        response: { 200: jsonResponse('The chat', chatSchema), 404: noSuchChatResponse },
      },
    },
    async (request) =>
      presentChat(await chatService.rename(userOf(request), request.params.id, request.body.title)),
  );

  app.patch(
    '/chats/:id/messages/:message_id',
    {
      ...user,
      preHandler: limits.messages,
      schema: {
        operationId: 'editMessage',
        summary: 'Edit a user message and run the turn again',
        description:
          'The messages after it are removed (streams get a `truncate` event); a running turn is interrupted first.',
        tags,
        params: messageParams,
        body: editBody,
        response: {
          202: jsonResponse('The edited message', editedMessageSchema),
          404: errorResponse('No such chat or message (`E_NOT_FOUND`)'),
          429: rateLimitedResponse,
        },
      },
    },
    async (request, reply) => {
      const { params } = request;
      const message = await chatService.editMessage(
        userOf(request),
        params.id,
        params.message_id,
        request.body.content,
      );
      return reply.code(202).send({ message: presentMessage(message) });
    },
  );

  app.post(
    '/chats/:id/regenerate',
    {
      ...user,
      preHandler: limits.messages,
      schema: {
        operationId: 'regenerateChat',
        summary: 'Run the last answer again',
        description: 'A running turn is interrupted first. Takes no body (or `{}`).',
        tags,
        params: idParams,
        response: {
          202: emptyResponse('Accepted'),
          404: noSuchChatResponse,
          409: errorResponse('There is no answer to regenerate (`E_CONFLICT`)'),
          429: rateLimitedResponse,
        },
      },
    },
    async (request, reply) => {
      parseRequestPart(noBody, request.body, 'body');
      await chatService.regenerate(userOf(request), request.params.id);
      return reply.code(202).send();
    },
  );
}

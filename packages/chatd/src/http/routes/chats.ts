import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH_LENGTH } from '../../chat/chat-paging.js';
import { userOf } from '../auth.js';
import { presentChat, presentMessage, presentQueuedMessage } from '../presenters.js';
import {
  idParams,
  messageIdParam,
  noBody,
  pageLimitParam,
  parseRequestPart,
  text,
  uuid,
} from '../validation.js';
import type { RouteContext } from './route-context.js';

const createChatBody = z.strictObject({ content: text(), model_config_id: uuid.optional() });
const sendMessageBody = z.strictObject({ content: text() });
/**
 * `archived`: `false` (the default: chats not archived), `true` (archived ones only) or `all`. The older
 * `include_archived=true` still means `all` (and `false` the default); not together with `archived`.
 */
const listChatsQuery = z
  .strictObject({
    limit: pageLimitParam(MAX_PAGE_SIZE).optional(),
    cursor: z.string().max(200).optional(),
    q: text().max(MAX_SEARCH_LENGTH).optional(),
    archived: z.enum(['false', 'true', 'all']).optional(),
    include_archived: z.enum(['true', 'false']).optional(),
  })
  .refine((query) => query.archived === undefined || query.include_archived === undefined, {
    message: 'archived and include_archived: give one of them (include_archived=true is archived=all)',
  });
const chatQuery = z.strictObject({
  before_id: messageIdParam.optional(),
  limit: pageLimitParam(MAX_PAGE_SIZE).optional(),
});

/**
 * The caller's chats under `/chats`. Another user's chat is answered 404, like one that does not exist
 * (`ChatService` enforces ownership), so chat ids cannot be probed.
 */
export function registerChatRoutes(app: FastifyInstance, { deps, access, limits }: RouteContext): void {
  const { chatService } = deps;
  const user = { onRequest: access.requireUser };

  app.post('/chats', { ...user, preHandler: limits.newChats }, async (request, reply) => {
    const body = parseRequestPart(createChatBody, request.body, 'body');
    const { chat } = await chatService.createChat(userOf(request), {
      content: body.content,
      modelConfigId: body.model_config_id,
    });
    return reply.code(201).send(presentChat(chat));
  });

  app.get('/chats', user, async (request) => {
    const query = parseRequestPart(listChatsQuery, request.query, 'query');
    const page = await chatService.listChats(userOf(request), {
      archived: query.archived ?? (query.include_archived === 'true' ? 'all' : 'false'),
      limit: query.limit ?? DEFAULT_PAGE_SIZE,
      cursor: query.cursor,
      q: query.q,
    });
    return { chats: page.chats.map(presentChat), next_cursor: page.nextCursor };
  });

  app.get('/chats/:id', user, async (request) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const query = parseRequestPart(chatQuery, request.query, 'query');
    const detail = await chatService.getChat(userOf(request), id, {
      beforeId: query.before_id,
      limit: query.limit ?? DEFAULT_PAGE_SIZE,
    });
    return {
      chat: presentChat(detail.chat),
      messages: detail.messages.map(presentMessage),
      queued_messages: detail.queuedMessages.map(presentQueuedMessage),
      next_before_id: detail.nextBeforeId,
    };
  });

  app.delete('/chats/:id', user, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    await chatService.deleteChat(userOf(request), id);
    return reply.code(204).send();
  });

  app.post('/chats/:id/messages', { ...user, preHandler: limits.messages }, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const body = parseRequestPart(sendMessageBody, request.body, 'body');
    const result = await chatService.sendMessage(userOf(request), id, body.content);
    return reply
      .code(202)
      .send(
        result.queued
          ? { queued: true, queued_message: presentQueuedMessage(result.queuedMessage) }
          : { queued: false, message: presentMessage(result.message) },
      );
  });

  app.post('/chats/:id/interrupt', user, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    parseRequestPart(noBody, request.body, 'body');
    await chatService.interrupt(userOf(request), id);
    return reply.code(202).send();
  });

  app.post('/chats/:id/retry', { ...user, preHandler: limits.messages }, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    parseRequestPart(noBody, request.body, 'body');
    await chatService.retry(userOf(request), id);
    return reply.code(202).send();
  });

  app.post('/chats/:id/compact', user, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    parseRequestPart(noBody, request.body, 'body');
    await chatService.compact(userOf(request), id);
    return reply.code(202).send();
  });

  for (const [action, archived] of [
    ['archive', true],
    ['unarchive', false],
  ] as const) {
    app.post(`/chats/:id/${action}`, user, async (request, reply) => {
      const { id } = parseRequestPart(idParams, request.params, 'path');
      parseRequestPart(noBody, request.body, 'body');
      await chatService.setArchived(userOf(request), id, archived);
      return reply.code(204).send();
    });
  }
}

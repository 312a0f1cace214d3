import { z } from 'zod';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEARCH_LENGTH } from '../../chat/chat-paging.js';
import { userOf } from '../auth.js';
import { presentChat, presentMessage, presentQueuedMessage } from '../presenters.js';
import { chatDetailSchema, chatPageSchema, chatSchema, sentMessageSchema } from '../schemas/chats.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import {
  idParams,
  messageIdParam,
  noBody,
  pageLimitParam,
  parseRequestPart,
  text,
  uuid,
} from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';

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

/** The answer of the per-user limits (`limits` of the route context). */
export const rateLimitedResponse = errorResponse(
  'Too many requests of this kind per minute; try again after `Retry-After` seconds (`E_RATE_LIMITED`)',
);

/** What the owner-only routes answer for a chat that is not the caller's, or does not exist. */
export const noSuchChatResponse = errorResponse('No such chat, or not yours (`E_NOT_FOUND`)');

/**
 * The caller's chats under `/chats`. Another user's chat is answered 404, like one that does not exist
 * (`ChatService` enforces ownership), so chat ids cannot be probed. Routes that take no body check it in
 * the handler (see `zodValidatorCompiler`).
 */
export function registerChatRoutes(app: ApiInstance, { deps, access, limits }: RouteContext): void {
  const { chatService } = deps;
  const user = { onRequest: access.requireUser };
  const tags = ['chats'];
  const noSuchChat = noSuchChatResponse;

  app.post(
    '/chats',
    {
      ...user,
      preHandler: limits.newChats,
      schema: {
        operationId: 'createChat',
        summary: 'Start a chat with its first message',
        description: 'Without `model_config_id`, the default model config answers.',
        tags,
        body: createChatBody,
        response: {
          201: jsonResponse(
            'The chat: `running` when the replica that accepted it claimed its first turn, else `pending`',
            chatSchema,
          ),
          429: rateLimitedResponse,
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const { chat } = await chatService.createChat(userOf(request), {
        content: body.content,
        modelConfigId: body.model_config_id,
      });
      return reply.code(201).send(presentChat(chat));
    },
  );

  app.get(
    '/chats',
    {
      ...user,
      schema: {
        operationId: 'listChats',
        summary: "The caller's chats, most recently updated first",
        description:
          '`q` searches titles and contents (full text). `archived`: `false` (default), `true` or `all`; ' +
          'the older `include_archived=true` means `all`.',
        tags,
        querystring: listChatsQuery,
        response: { 200: jsonResponse('A page of chats', chatPageSchema) },
      },
    },
    async (request) => {
      const { query } = request;
      const page = await chatService.listChats(userOf(request), {
        archived: query.archived ?? (query.include_archived === 'true' ? 'all' : 'false'),
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
        cursor: query.cursor,
        q: query.q,
      });
      return { chats: page.chats.map(presentChat), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/chats/:id',
    {
      ...user,
      schema: {
        operationId: 'getChat',
        summary: 'A chat with its newest messages and its queue',
        description: 'Older messages: pass `next_before_id` as `before_id`.',
        tags,
        params: idParams,
        querystring: chatQuery,
        response: { 200: jsonResponse('The chat', chatDetailSchema), 404: noSuchChat },
      },
    },
    async (request) => {
      const { query } = request;
      const detail = await chatService.getChat(userOf(request), request.params.id, {
        beforeId: query.before_id,
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
      });
      return {
        chat: presentChat(detail.chat),
        messages: detail.messages.map(presentMessage),
        queued_messages: detail.queuedMessages.map(presentQueuedMessage),
        next_before_id: detail.nextBeforeId,
      };
    },
  );

  app.delete(
    '/chats/:id',
    {
      ...user,
      schema: {
        operationId: 'deleteChat',
        summary: 'Delete a chat',
        description: 'Every row of the chat is removed; its streams get a last `deleted` event.',
        tags,
        params: idParams,
        response: { 204: emptyResponse('The chat is deleted'), 404: noSuchChat },
      },
    },
    async (request, reply) => {
      await chatService.deleteChat(userOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/chats/:id/messages',
    {
      ...user,
      preHandler: limits.messages,
      schema: {
        operationId: 'sendMessage',
        summary: 'Send a message',
        description: 'Answered at once when the chat waits; queued while a turn runs.',
        tags,
        params: idParams,
        body: sendMessageBody,
        response: {
          202: jsonResponse('The message, or its place in the queue', sentMessageSchema),
          404: noSuchChat,
          429: errorResponse(
            'The queue is full (`E_QUEUE_FULL`), or too many messages per minute (`E_RATE_LIMITED`)',
          ),
        },
      },
    },
    async (request, reply) => {
      const result = await chatService.sendMessage(userOf(request), request.params.id, request.body.content);
      return reply
        .code(202)
        .send(
          result.queued
            ? { queued: true, queued_message: presentQueuedMessage(result.queuedMessage) }
            : { queued: false, message: presentMessage(result.message) },
        );
    },
  );

  const actions = [
    {
      action: 'interrupt',
      operationId: 'interruptChat',
      summary: 'Interrupt the running turn',
      description: 'The partial answer is kept (`finish_reason: "interrupted"`); then the queue proceeds.',
      limit: undefined,
      conflict: undefined,
      run: (id: string, caller: ReturnType<typeof userOf>) => chatService.interrupt(caller, id),
    },
    {
      action: 'retry',
      operationId: 'retryChat',
      summary: 'Run the failed turn again',
      description: 'Resumes a chat in `error`.',
      limit: limits.messages,
      conflict: 'The chat is not in `error` (`E_CONFLICT`)',
      run: (id: string, caller: ReturnType<typeof userOf>) => chatService.retry(caller, id),
    },
    {
      action: 'compact',
      operationId: 'compactChat',
      summary: 'Summarize the older history now',
      description: 'Later turns send the summary instead of the messages it covers.',
      limit: undefined,
      conflict: undefined,
      run: (id: string, caller: ReturnType<typeof userOf>) => chatService.compact(caller, id),
    },
  ] as const;
  for (const { action, operationId, summary, description, limit, conflict, run } of actions) {
    app.post(
      `/chats/:id/${action}`,
      {
        ...user,
        ...(limit ? { preHandler: limit } : {}),
        schema: {
          operationId,
          summary,
          description: `${description} Takes no body (or \`{}\`).`,
          tags,
          params: idParams,
          response: {
            202: emptyResponse('Accepted'),
            404: noSuchChat,
            ...(conflict ? { 409: errorResponse(conflict) } : {}),
            ...(limit ? { 429: rateLimitedResponse } : {}),
          },
        },
      },
      async (request, reply) => {
        parseRequestPart(noBody, request.body, 'body');
        await run(request.params.id, userOf(request));
        return reply.code(202).send();
      },
    );
  }

  for (const [action, archived] of [
    ['archive', true],
    ['unarchive', false],
  ] as const) {
    app.post(
      `/chats/:id/${action}`,
      {
        ...user,
        schema: {
          operationId: `${action}Chat`,
          summary: archived ? 'Archive a chat' : 'Bring an archived chat back',
          description: 'Takes no body (or `{}`).',
          tags,
          params: idParams,
          response: { 204: emptyResponse(archived ? 'Archived' : 'Not archived'), 404: noSuchChat },
        },
      },
      async (request, reply) => {
        parseRequestPart(noBody, request.body, 'body');
        await chatService.setArchived(userOf(request), request.params.id, archived);
        return reply.code(204).send();
      },
    );
  }
}

import { z } from 'zod';
import { userOf } from '../auth.js';
import { ChatStream } from '../chat-stream.js';
import { ServiceUnavailableError } from '../http-errors.js';
import { chatStreamEventSchema } from '../schemas/chats.js';
import { errorResponse } from '../schemas/responses.js';
import { SseResponse } from '../sse.js';
import { idParams, messageIdParam } from '../validation.js';
import { noSuchChatResponse } from './chats.js';
import type { ApiInstance, RouteContext } from './route-context.js';

/** A message id: what `id:` lines carry and clients send back as `after_id` or `Last-Event-ID`. */
const messageId = messageIdParam;

const streamQuery = z.strictObject({ after_id: messageId.optional() });
/** Loose: the other headers stay as they are (the parsed headers replace the request's). */
const streamHeaders = z.looseObject({ 'last-event-id': messageId.optional() });

/**
 * `GET /chats/{id}/stream[?after_id=N]`: Server-Sent Events of one owned chat (`status`, `message`,
 * `message_part`, `error`). Resumes after `after_id` or the `Last-Event-ID` header an EventSource sends
 * on reconnect, whichever is later (both mean "I have every message up to here").
 */
export function registerChatStreamRoute(app: ApiInstance, context: RouteContext): void {
  const { deps, access, options, openStreams } = context;
  app.get(
    '/chats/:id/stream',
    {
      onRequest: access.requireUser,
      // HEAD would run this handler and hold the connection open for a body it must not send.
      exposeHeadRoute: false,
      schema: {
        operationId: 'streamChat',
        summary: "Follow a chat's events (Server-Sent Events)",
        description:
          'First the current `status`, then the messages after `after_id` (or `Last-Event-ID`, whichever ' +
          'is later), then live events: `status`, `message_part`, `message`, `title`, `truncate`, ' +
          '`error`, `deleted`. `message` events carry `id:` lines, so an EventSource resumes by itself.',
        tags: ['chats'],
        params: idParams,
        querystring: streamQuery,
        headers: streamHeaders,
        response: {
          200: {
            description: 'The event stream; it stays open until the client leaves or the chat is deleted',
            content: { 'text/event-stream': { schema: chatStreamEventSchema } },
          },
          404: noSuchChatResponse,
          429: errorResponse('The user holds too many open streams (`E_RATE_LIMITED`)'),
          503: errorResponse('The server is shutting down; reconnect (`E_UNAVAILABLE`)'),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const afterId = Math.max(request.query.after_id ?? 0, request.headers['last-event-id'] ?? 0);

      const sse = new SseResponse(reply.raw, {
        heartbeatMs: options.streamHeartbeatMs,
        maxBufferedBytes: options.streamMaxBufferedBytes,
      });
      // Refused (429) before anything is written when the user holds too many streams.
      openStreams.add(sse, userOf(request));
      try {
        await ChatStream.open(
          { store: deps.store, chatService: deps.chatService, events: deps.events, logger: request.log },
          { user: userOf(request), chatId: id, afterId },
          sse,
          () => reply.hijack(),
        );
      } catch (error) {
        // Nothing was written: the error handler answers as usual; the SSE wrapper is dropped.
        sse.close();
        throw error;
      }
      // Closed before it began: the client left (nothing reaches it), or the server is closing.
      if (!sse.opened) throw new ServiceUnavailableError();
    },
  );
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { userOf } from '../auth.js';
import { ChatStream } from '../chat-stream.js';
import { ServiceUnavailableError } from '../http-errors.js';
import { SseResponse } from '../sse.js';
import { idParams, parseRequestPart } from '../validation.js';
import type { RouteContext } from './route-context.js';

/** A message id: what `id:` lines carry and clients send back as `after_id` or `Last-Event-ID`. */
const messageId = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a message id (a non-negative integer)')
  .transform(Number);

const streamQuery = z.strictObject({ after_id: messageId.optional() });
const streamHeaders = z.object({ 'last-event-id': messageId.optional() });

/**
 * `GET /chats/{id}/stream[?after_id=N]`: Server-Sent Events of one owned chat (`status`, `message`,
 * `message_part`, `error`). Resumes after `after_id` or the `Last-Event-ID` header an EventSource sends
 * on reconnect, whichever is later (both mean "I have every message up to here").
 */
export function registerChatStreamRoute(app: FastifyInstance, context: RouteContext): void {
  const { deps, access, options, openStreams } = context;
  app.get(
    '/chats/:id/stream',
    // HEAD would run this handler and hold the connection open for a body it must not send.
    { onRequest: access.requireUser, exposeHeadRoute: false },
    async (request, reply) => {
      const { id } = parseRequestPart(idParams, request.params, 'path');
      const query = parseRequestPart(streamQuery, request.query, 'query');
      const headers = parseRequestPart(streamHeaders, request.headers, 'header');
      const afterId = Math.max(query.after_id ?? 0, headers['last-event-id'] ?? 0);

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

/** Response bodies of the chat routes, and the events of a chat's stream. */
import { z } from 'zod';
import { CHAT_STATUSES, FINISH_REASONS } from '../../db/rows.js';

const timestamp = z.string().describe('An ISO-8601 timestamp (UTC)');
const messageId = z.number().int().describe('A message id: ids grow with time within a chat');

export const chatStatusSchema = z.enum(CHAT_STATUSES).meta({
  id: 'ChatStatus',
  description: '`pending` → `running` → `waiting` (or `error`, with `last_error`)',
});

export const chatSchema = z
  .strictObject({
    id: z.string(),
    title: z.string(),
    status: chatStatusSchema,
    model_config_id: z.string().nullable(),
    last_error: z.string().nullable(),
    archived: z.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
    usage: z
      .strictObject({ input_tokens: z.number().int(), output_tokens: z.number().int() })
      .describe("Tokens the chat's turns spent (messages removed by an edit still count)"),
  })
  .meta({ id: 'Chat', description: 'A chat' });

/** A message: the same shape as the stream's `message` events. */
export const messageSchema = z
  .strictObject({
    id: messageId,
    role: z.enum(['user', 'assistant']),
    content: z.string(),
    model_config_id: z.string().nullable(),
    input_tokens: z.number().int().nullable(),
    output_tokens: z.number().int().nullable(),
    finish_reason: z
      .enum(FINISH_REASONS)
      .nullable()
      .describe('Assistant messages: why the answer ended; null on user messages'),
    reply_to: z.number().int().nullable().describe('Assistant messages: the id of the user message answered'),
    created_at: timestamp,
  })
  .meta({ id: 'Message', description: 'A message of a chat' });

export const queuedMessageSchema = z
  .strictObject({ id: z.number().int(), content: z.string(), created_at: timestamp })
  .meta({ id: 'QueuedMessage', description: 'A message waiting for the running turn to end' });

export const chatPageSchema = z
  .strictObject({
    chats: z.array(chatSchema),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one'),
  })
  .meta({ id: 'ChatPage' });

export const chatDetailSchema = z
  .strictObject({
    chat: chatSchema,
    messages: z.array(messageSchema).describe('The newest page of messages, oldest first'),
    queued_messages: z.array(queuedMessageSchema),
    next_before_id: z
      .number()
      .int()
      .nullable()
      .describe('Pass as `before_id` for older messages; null when there are none'),
  })
  .meta({ id: 'ChatDetail' });

export const sentMessageSchema = z
  .discriminatedUnion('queued', [
    z.strictObject({ queued: z.literal(false), message: messageSchema }),
    z.strictObject({ queued: z.literal(true), queued_message: queuedMessageSchema }),
  ])
  .meta({ id: 'SentMessage', description: 'The message, or its place in the queue when the chat is busy' });

export const editedMessageSchema = z.strictObject({ message: messageSchema }).meta({ id: 'EditedMessage' });

/**
 * The events of `GET /chats/{id}/stream`, as `{event, id?, data}`: an SSE frame `event: <event>`, then
 * `id: <id>` on `message` events, then `data: <data as JSON>`. Documentation only: the stream is written
 * to the socket, never through a serializer.
 */
export const chatStreamEventSchema = z
  .discriminatedUnion('event', [
    z.strictObject({
      event: z.literal('status'),
      data: z.strictObject({ status: chatStatusSchema, last_error: z.string().nullable().optional() }),
    }),
    z.strictObject({
      event: z.literal('message_part'),
      data: z.strictObject({ text: z.string().describe('More text of the running answer') }),
    }),
    z.strictObject({ event: z.literal('message'), id: messageId, data: messageSchema }),
    z.strictObject({ event: z.literal('error'), data: z.strictObject({ message: z.string() }) }),
    z.strictObject({ event: z.literal('title'), data: z.strictObject({ title: z.string() }) }),
    z.strictObject({
      event: z.literal('truncate'),
      data: z
        .strictObject({ after_id: messageId })
        .describe('Every message after `after_id` was removed (an edit or a regenerate)'),
    }),
    z.strictObject({
      event: z.literal('deleted'),
      data: z.strictObject({ chat_id: z.string() }).describe('The chat was deleted; the stream ends'),
    }),
  ])
  .meta({
    id: 'ChatStreamEvent',
    description:
      'One Server-Sent Event: `event: <event>`, `id: <id>` (message events), `data: <data as JSON>`. ' +
      'Idle streams send `: keepalive` comments.',
  });

export type ChatJson = z.output<typeof chatSchema>;
export type MessageJson = z.output<typeof messageSchema>;
export type QueuedMessageJson = z.output<typeof queuedMessageSchema>;

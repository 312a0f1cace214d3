import type { paths } from './generated/api.js';

/** A message as the API returns it (the generated type of `GET /api/v1/chats/{id}`'s `messages`). */
export type ChatMessage =
  paths['/api/v1/chats/{id}']['get']['responses'][200]['content']['application/json']['messages'][number];

/** A chat's status as its stream reports it. */
export type ChatStatus = 'pending' | 'running' | 'waiting' | 'error';

/**
 * One event of a chat's stream (`GET /api/v1/chats/{id}/stream`), by its SSE event name:
 * - `status`: the chat's status now (always first after each (re)connection);
 * - `message_part`: streamed text of the running turn, appended to what came since its `running` status;
 * - `message`: a stored message (user or assistant), delivered at most once by the follower;
 * - `error`: a turn failed (the chat's status says what follows);
 * - `title`: the chat's title changed;
 * - `truncate`: an edit or regenerate removed every message after `after_id`;
 * - `deleted`: the chat was deleted; the stream ends.
 */
export type ChatStreamEvent =
  | { type: 'status'; status: ChatStatus; last_error?: string | null }
  | { type: 'message_part'; text: string }
  | { type: 'message'; message: ChatMessage }
  | { type: 'error'; message: string }
  | { type: 'title'; title: string }
  | { type: 'truncate'; after_id: number }
  | { type: 'deleted'; chat_id: string };

const EVENT_TYPES: ReadonlySet<string> = new Set([
  'status',
  'message_part',
  'message',
  'error',
  'title',
  'truncate',
  'deleted',
]);

/**
 * The typed event for one SSE frame, or `undefined` for an event name this client does not know (a newer
 * server may add some: they are skipped, not errors). `message` frames carry the message itself as data.
 */
export function toChatStreamEvent(name: string | undefined, data: string): ChatStreamEvent | undefined {
  if (name === undefined || !EVENT_TYPES.has(name)) return undefined;
  const payload: unknown = JSON.parse(data);
  if (name === 'message') return { type: 'message', message: payload as ChatMessage };
  return { ...(payload as object), type: name } as ChatStreamEvent;
}

/** A chat's live events. */
import { chatd, followChatStream } from './client';
import type { ChatStreamEvent, StreamState } from './types';

/** What to do with a followed stream's events and connection states. */
export interface ChatStreamHandlers {
  /** Resume after this message id (the newest one already shown). */
  afterId?: number | undefined;
  signal: AbortSignal;
  onEvent: (event: ChatStreamEvent) => void;
  onState: (state: StreamState) => void;
}

/**
 * Follows a chat's stream until `signal` aborts: reconnects after drops and resumes after the last
 * message delivered, so no message is delivered twice.
 */
export function followChat(chatId: string, handlers: ChatStreamHandlers): void {
  followChatStream(chatd, chatId, {
    afterId: handlers.afterId,
    signal: handlers.signal,
    onEvent: (event) => handlers.onEvent(event as ChatStreamEvent),
    onState: (state) => handlers.onState(state as StreamState),
  });
}

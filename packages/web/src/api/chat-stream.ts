/** A chat's live events. */
import { followChatStream } from '@chatd/client';
import { chatd, noticeAuthFailure } from './client';
import type { ChatStreamEvent, StreamState } from './types';

/** What to do with a followed stream's events and connection states. */
export interface ChatStreamHandlers {
  /** Resume after this message id (the newest one already shown). */
  afterId?: number | undefined;
  signal: AbortSignal;
  onEvent: (event: ChatStreamEvent) => void;
  onState: (state: StreamState) => void;
  /** The stream was refused for good (the chat is gone, or the session ended). */
  onFailure: (error: unknown) => void;
}

/**
 * Follows a chat's stream until `signal` aborts: reconnects after drops and resumes after the last
 * message delivered, so no message is delivered twice.
 */
export function followChat(chatId: string, handlers: ChatStreamHandlers): void {
  const follower = followChatStream(chatd, chatId, {
    afterId: handlers.afterId,
    signal: handlers.signal,
    onEvent: handlers.onEvent,
    onState: handlers.onState,
  });
  follower.done.catch((error: unknown) => {
    if (!handlers.signal.aborted) handlers.onFailure(noticeAuthFailure(error));
  });
}

/**
 * The state of one open conversation and how stream events change it. Pure: the reducer is the one
 * place that decides what a `message`, `truncate` or `status` event means for what the page shows.
 */
import type { Chat, ChatDetail, ChatStreamEvent, Message, QueuedMessage, StreamState } from '../api/types';

export interface ConversationState {
  chat: Chat | undefined;
  /** In id order, each id once. */
  messages: Message[];
  queued: QueuedMessage[];
  /** Where older messages continue (`before_id`), or null when the first message is loaded. */
  olderBeforeId: number | null;
  /** The text of the answer being streamed (empty when none). */
  streamingText: string;
  streamState: StreamState;
  /** The last `error` event of the stream (a failed turn's message). */
  streamError: string | undefined;
  deleted: boolean;
}

export type ConversationAction =
  | { type: 'loaded'; detail: ChatDetail }
  | { type: 'older-loaded'; detail: ChatDetail }
  | { type: 'summary-loaded'; detail: ChatDetail }
  | { type: 'chat-changed'; chat: Chat }
  | { type: 'queued'; message: QueuedMessage }
  | { type: 'stream-state'; state: StreamState }
  | { type: 'stream-event'; event: ChatStreamEvent };

/** Before the chat has loaded. */
export const initialConversationState: ConversationState = {
  chat: undefined,
  messages: [],
  queued: [],
  olderBeforeId: null,
  streamingText: '',
  streamState: 'connecting',
  streamError: undefined,
  deleted: false,
};

/** Messages merged by id (a later copy replaces an earlier one), in id order. */
export function mergeMessages(known: readonly Message[], incoming: readonly Message[]): Message[] {
  const byId = new Map(known.map((message) => [message.id, message]));
  for (const message of incoming) byId.set(message.id, message);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

function applyStreamEvent(state: ConversationState, event: ChatStreamEvent): ConversationState {
  switch (event.type) {
    case 'status': {
      if (!state.chat) return state;
      const chat = { ...state.chat, status: event.status, last_error: event.last_error ?? null };
      // A new turn starts from an empty answer; a finished one has its message (or its error).
      const streamingText = event.status === 'running' ? state.streamingText : '';
      const streamError = event.status === 'error' ? state.streamError : undefined;
      return { ...state, chat, streamingText, streamError };
    }
    case 'message_part':
      return { ...state, streamingText: state.streamingText + event.text };
    case 'message': {
      const { message } = event;
      return {
        ...state,
        messages: mergeMessages(state.messages, [message]),
        streamingText: message.role === 'assistant' ? '' : state.streamingText,
        // A queued message promoted into the history shows once.
        queued:
          message.role === 'user'
            ? state.queued.filter((queued) => queued.content !== message.content)
            : state.queued,
      };
    }
    case 'truncate':
      return {
        ...state,
        messages: state.messages.filter((message) => message.id <= event.after_id),
        streamingText: '',
      };
    case 'title':
      return state.chat ? { ...state, chat: { ...state.chat, title: event.title } } : state;
    case 'error':
      return { ...state, streamError: event.message };
    case 'deleted':
      return { ...state, deleted: true };
  }
}

/** The conversation reducer. */
export function conversationReducer(state: ConversationState, action: ConversationAction): ConversationState {
  switch (action.type) {
    case 'loaded':
      return {
        ...state,
        chat: action.detail.chat,
        messages: mergeMessages(state.messages, action.detail.messages),
        queued: action.detail.queued_messages,
        olderBeforeId: action.detail.next_before_id,
      };
    case 'older-loaded':
      return {
        ...state,
        messages: mergeMessages(action.detail.messages, state.messages),
        olderBeforeId: action.detail.next_before_id,
      };
    case 'summary-loaded':
      // Usage and the queue change with each turn; the stream carries neither.
      return state.chat
        ? {
            ...state,
            chat: { ...action.detail.chat, status: state.chat.status, last_error: state.chat.last_error },
            queued: action.detail.queued_messages,
          }
        : state;
    case 'chat-changed':
      return { ...state, chat: action.chat };
    case 'queued':
      return state.queued.some((queued) => queued.id === action.message.id)
        ? state
        : { ...state, queued: [...state.queued, action.message] };
    case 'stream-state':
      return { ...state, streamState: action.state };
    case 'stream-event':
      return applyStreamEvent(state, action.event);
  }
}

import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { followChat } from '../api/chat-stream';
import { getChat } from '../api/chats';
import type { Chat, ChatStreamEvent, QueuedMessage } from '../api/types';
import { conversationReducer, initialConversationState } from './conversation-state';

/** What a conversation page works with. */
export interface Conversation {
  state: typeof initialConversationState;
  loadError: unknown;
  loadingOlder: boolean;
  loadOlder: () => Promise<void>;
  /** The chat was changed by an action of this page (a rename, an archive). */
  chatChanged: (chat: Chat) => void;
  /** A message this page sent was queued. */
  queued: (message: QueuedMessage) => void;
}

/** Messages per page when paging older messages. */
const OLDER_PAGE_SIZE = 50;
/** Summary refreshes (usage, queue) after status changes are coalesced over this long. */
const SUMMARY_DELAY_MS = 300;

/**
 * Loads a chat and follows its stream: live parts of the running answer, new messages, status, title,
 * truncation after an edit. The follower resumes after drops from the last message it delivered, so
 * nothing shows twice; `onEvent` lets the page mirror title and status in the sidebar.
 */
export function useConversation(chatId: string, onEvent: (event: ChatStreamEvent) => void): Conversation {
  const [state, dispatch] = useReducer(conversationReducer, initialConversationState);
  const [loadError, setLoadError] = useState<unknown>();
  const [loadingOlder, setLoadingOlder] = useState(false);
  const stateRef = useRef(state);
  stateRef.current = state;
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;

  useEffect(() => {
    const controller = new AbortController();
    let summaryTimer: ReturnType<typeof setTimeout> | undefined;
    const refreshSummary = () => {
      clearTimeout(summaryTimer);
      summaryTimer = setTimeout(() => {
        getChat(chatId, { limit: 1 }).then(
          (detail) => {
            if (!controller.signal.aborted) dispatch({ type: 'summary-loaded', detail });
          },
          () => {
            // The next status change tries again; the page keeps what it shows.
          },
        );
      }, SUMMARY_DELAY_MS);
    };
    getChat(chatId).then(
      (detail) => {
        if (controller.signal.aborted) return;
        dispatch({ type: 'loaded', detail });
        followChat(chatId, {
          afterId: detail.messages.at(-1)?.id,
          signal: controller.signal,
          onEvent(event) {
            dispatch({ type: 'stream-event', event });
            if (event.type === 'status' || (event.type === 'message' && event.message.role === 'user'))
              refreshSummary();
            onEventRef.current(event);
          },
          onState(streamState) {
            dispatch({ type: 'stream-state', state: streamState });
          },
          onFailure(error) {
            setLoadError(error);
          },
        });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setLoadError(error);
      },
    );
    return () => {
      controller.abort();
      clearTimeout(summaryTimer);
    };
  }, [chatId]);

  const loadOlder = useCallback(async () => {
    const beforeId = stateRef.current.olderBeforeId;
    if (beforeId === null) return;
    setLoadingOlder(true);
    try {
      const detail = await getChat(chatId, { beforeId, limit: OLDER_PAGE_SIZE });
      dispatch({ type: 'older-loaded', detail });
    } finally {
      setLoadingOlder(false);
    }
  }, [chatId]);

  const chatChanged = useCallback((chat: Chat) => dispatch({ type: 'chat-changed', chat }), []);
  const queued = useCallback((message: QueuedMessage) => dispatch({ type: 'queued', message }), []);
  return { state, loadError, loadingOlder, loadOlder, chatChanged, queued };
}

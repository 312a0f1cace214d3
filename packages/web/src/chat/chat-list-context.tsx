import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { listChats } from '../api/chats';
import type { Chat } from '../api/types';

/** The sidebar's chats: a search, endless paging, and updates from the pages that change chats. */
export interface ChatListValue {
  chats: readonly Chat[];
  query: string;
  setQuery: (query: string) => void;
  archived: boolean;
  setArchived: (archived: boolean) => void;
  hasMore: boolean;
  loading: boolean;
  error: unknown;
  loadMore: () => void;
  /** A chat was created or changed: put it at the top (or update it in place). */
  upsert: (chat: Chat) => void;
  /** A chat was changed in part (a title event). */
  patch: (id: string, change: Partial<Chat>) => void;
  remove: (id: string) => void;
  /** A chat got a new message: it moves to the top, as the server orders by last change. */
  moveToTop: (id: string) => void;
}

const ChatListContext = createContext<ChatListValue | undefined>(undefined);

/** How long typing in the search box waits before it asks the server. */
const SEARCH_DELAY_MS = 250;

/** Holds the chat list for the sidebar and the pages that create, rename or delete chats. */
export function ChatListProvider({ children }: { children: ReactNode }) {
  const [query, setQuery] = useState('');
  const [archived, setArchived] = useState(false);
  const [chats, setChats] = useState<Chat[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>();
  /** Bumped by each new search: pages of an older search are dropped. */
  const generation = useRef(0);
  const loadingRef = useRef(false);

  const fetchPage = useCallback(
    async (pageCursor: string | undefined) => {
      const current = generation.current;
      loadingRef.current = true;
      setLoading(true);
      try {
        const page = await listChats({
          q: query.trim(),
          cursor: pageCursor,
          archived: archived ? 'true' : 'false',
        });
        if (current !== generation.current) return;
        setChats((known) => {
          const base = pageCursor === undefined ? [] : known;
          const seen = new Set(base.map((chat) => chat.id));
          return [...base, ...page.chats.filter((chat) => !seen.has(chat.id))];
        });
        setCursor(page.next_cursor);
        setError(undefined);
      } catch (failure) {
        if (current === generation.current) setError(failure);
      } finally {
        if (current === generation.current) {
          loadingRef.current = false;
          setLoading(false);
        }
      }
    },
    [query, archived],
  );

  useEffect(() => {
    generation.current++;
    const timer = setTimeout(() => void fetchPage(undefined), query ? SEARCH_DELAY_MS : 0);
    return () => clearTimeout(timer);
  }, [fetchPage, query]);

  const loadMore = useCallback(() => {
    if (cursor && !loadingRef.current) void fetchPage(cursor);
  }, [cursor, fetchPage]);
  const upsert = useCallback((chat: Chat) => {
    setChats((known) => [chat, ...known.filter((other) => other.id !== chat.id)]);
  }, []);
  const patch = useCallback((id: string, change: Partial<Chat>) => {
    setChats((known) => known.map((chat) => (chat.id === id ? { ...chat, ...change } : chat)));
  }, []);
  const moveToTop = useCallback((id: string) => {
    setChats((known) => {
      const chat = known.find((other) => other.id === id);
      return chat ? [chat, ...known.filter((other) => other.id !== id)] : known;
    });
  }, []);
  const remove = useCallback((id: string) => {
    setChats((known) => known.filter((chat) => chat.id !== id));
  }, []);

  const value = useMemo(
    () => ({
      chats,
      query,
      setQuery,
      archived,
      setArchived,
      hasMore: cursor !== null,
      loading,
      error,
      loadMore,
      upsert,
      patch,
      remove,
      moveToTop,
    }),
    [chats, query, archived, cursor, loading, error, loadMore, upsert, patch, remove, moveToTop],
  );
  return <ChatListContext value={value}>{children}</ChatListContext>;
}

/** The chat list; only inside {@link ChatListProvider}. */
export function useChatList(): ChatListValue {
  const value = useContext(ChatListContext);
  if (!value) throw new Error('useChatList outside ChatListProvider');
  return value;
}

import { Link, useRoute } from 'wouter';
import { ErrorNotice } from '../ui/ErrorNotice';
import { useOnVisible } from '../ui/use-intersection';
import { useChatList } from './chat-list-context';

/** The chat list: a search box, the chats (more load as the list is scrolled), and "New chat". */
export function ChatSidebar({ onNavigate }: { onNavigate?: () => void }) {
  const list = useChatList();
  const [, params] = useRoute<{ id: string }>('/chats/:id');
  const sentinel = useOnVisible<HTMLLIElement>(list.loadMore, list.hasMore && !list.loading);
  return (
    <nav className="sidebar-nav" aria-label="Chats">
      <Link href="/" className="button-primary new-chat" onClick={onNavigate}>
        New chat
      </Link>
      <search className="sidebar-search">
        <label className="field">
          <span>Search chats</span>
          <input type="search" value={list.query} onChange={(event) => list.setQuery(event.target.value)} />
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={list.archived}
            onChange={(event) => list.setArchived(event.target.checked)}
          />
          <span>Show archived chats</span>
        </label>
      </search>
      <ErrorNotice error={list.error} />
      <ul className="chat-list">
        {list.chats.map((chat) => (
          <li key={chat.id}>
            <Link
              href={`/chats/${chat.id}`}
              aria-current={params?.id === chat.id ? 'page' : undefined}
              onClick={onNavigate}
            >
              <span className="chat-title">{chat.title || 'Untitled chat'}</span>
              {chat.status === 'running' || chat.status === 'pending' ? (
                <span className="chat-badge">answering</span>
              ) : chat.status === 'error' ? (
                <span className="chat-badge chat-badge-error">error</span>
              ) : null}
            </Link>
          </li>
        ))}
        {list.hasMore && (
          <li ref={sentinel} className="chat-list-more">
            <button type="button" className="button-small" onClick={list.loadMore} disabled={list.loading}>
              {list.loading ? 'Loading…' : 'Load more chats'}
            </button>
          </li>
        )}
      </ul>
      {!list.loading && list.chats.length === 0 && (
        <p className="muted">{list.query ? 'No chat matches.' : 'No chats yet.'}</p>
      )}
      <p className="visually-hidden" aria-live="polite">
        {list.loading ? 'Loading chats' : `${list.chats.length} chats shown`}
      </p>
    </nav>
  );
}

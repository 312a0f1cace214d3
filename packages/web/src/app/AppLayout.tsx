import { type KeyboardEvent, type ReactNode, useRef, useState } from 'react';
import { Link, useRoute } from 'wouter';
import { ChatSidebar } from '../chat/ChatSidebar';
import { useUser } from '../session/session-context';
import { LogOutButton } from './LogOutButton';
import { ThemeToggle } from './ThemeToggle';

/** The page frame: header with the main navigation, the chat sidebar (on chat pages), and the main region. */
export function AppLayout({ children }: { children: ReactNode }) {
  const user = useUser();
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [onNewChat] = useRoute('/');
  const [onChat] = useRoute('/chats/:id');
  const showSidebar = onNewChat || onChat;
  const toggle = useRef<HTMLButtonElement>(null);
  // On a phone the open chat list covers the page: Escape closes it and returns to its button.
  const closeOnEscape = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && sidebarOpen) {
      setSidebarOpen(false);
      toggle.current?.focus();
    }
  };
  return (
    <div className={`app${showSidebar ? ' with-sidebar' : ''}${sidebarOpen ? ' sidebar-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        {showSidebar && (
          <button
            ref={toggle}
            type="button"
            className="button-ghost sidebar-toggle"
            aria-expanded={sidebarOpen}
            aria-controls="chat-sidebar"
            onClick={() => setSidebarOpen((open) => !open)}
          >
            {sidebarOpen ? 'Hide chats' : 'Show chats'}
          </button>
        )}
        <Link href="/" className="brand">
          chatd
        </Link>
        <nav className="main-nav" aria-label="Main">
          <Link href="/" className={(active) => (active ? 'active' : '')}>
            Chats
          </Link>
          <Link href="/settings" className={(active) => (active ? 'active' : '')}>
            Settings
          </Link>
          {user.role === 'admin' && (
            <Link href="/admin" className={(active) => (active ? 'active' : '')}>
              Admin
            </Link>
          )}
        </nav>
        <div className="header-tools">
          <ThemeToggle />
          <span className="username" title="Logged in as">
            {user.username}
          </span>
          <LogOutButton />
        </div>
      </header>
      <div className="app-body">
        {showSidebar && (
          <aside id="chat-sidebar" className="sidebar" aria-label="Chat list" onKeyDown={closeOnEscape}>
            <ChatSidebar onNavigate={() => setSidebarOpen(false)} />
          </aside>
        )}
        <main id="main" className="app-main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}

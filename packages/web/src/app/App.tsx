import { lazy, Suspense } from 'react';
import { Route, Switch } from 'wouter';
import { ConversationPage } from '../chat/ConversationPage';
import { ChatListProvider } from '../chat/chat-list-context';
import { NewChatPage } from '../chat/NewChatPage';
import { LoginPage } from '../session/LoginPage';
import { useSession } from '../session/session-context';
import { ErrorBoundary } from '../ui/ErrorBoundary';
import { AppLayout } from './AppLayout';
import { NotFoundPage } from './NotFoundPage';
import { PageError } from './PageError';

const SettingsPage = lazy(() => import('../settings/SettingsPage'));
const AdminArea = lazy(() => import('../admin/AdminArea'));

/** The app: the login page until someone is logged in, then the chats, settings and admin pages. */
export function App() {
  const { user } = useSession();
  if (user === undefined)
    return (
      <main className="loading-page" id="main">
        <p role="status">Loading…</p>
      </main>
    );
  if (user === null) return <LoginPage />;
  return (
    <ChatListProvider key={user.id}>
      <AppLayout>
        <ErrorBoundary fallback={(error) => <PageError error={error} />}>
          <Suspense fallback={<p role="status">Loading…</p>}>
            <Switch>
              <Route path="/" component={NewChatPage} />
              <Route path="/chats/:id">
                {(params) => <ConversationPage key={params.id} chatId={params.id} />}
              </Route>
              <Route path="/settings" component={SettingsPage} />
              {user.role === 'admin' && <Route path="/admin" nest component={AdminArea} />}
              <Route component={NotFoundPage} />
            </Switch>
          </Suspense>
        </ErrorBoundary>
      </AppLayout>
    </ChatListProvider>
  );
}

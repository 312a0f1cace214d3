/** The one API client of the app: same origin, the session cookie, and the CSRF token once known. */
import { ChatdApiError, createChatdClient } from './interim-client';

export { ChatdApiError, followChatStream } from './interim-client';

/** The client every API module uses. */
export const chatd = createChatdClient({ baseUrl: window.location.origin });

/** Sets (or, with `undefined`, forgets) the CSRF token sent with every unsafe request. */
export function setCsrfToken(token: string | undefined): void {
  chatd.setCsrfToken(token);
}

const unauthorizedListeners = new Set<() => void>();

/** Calls `listener` whenever the server answers 401 (the session ended); returns the unsubscribe. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/**
 * Awaits a `chatd.api` request: its data as the app's type `T` (see `types.ts`), or a thrown
 * {@link ChatdApiError}. A 401 also tells the {@link onUnauthorized} listeners.
 */
export async function request<T = void>(pending: Promise<unknown>): Promise<T> {
  try {
    return (await chatd.call(pending as Parameters<typeof chatd.call>[0])) as T;
  } catch (error) {
    if (error instanceof ChatdApiError && error.status === 401)
      for (const listener of unauthorizedListeners) listener();
    throw error;
  }
}

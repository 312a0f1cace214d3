/** Login sessions: restore, log in, log out. */
import { ChatdApiError, chatd, request, setCsrfToken } from './client';
import type { Session } from './types';

/** The session of this browser, or `null` when nobody is logged in (401). */
export async function restoreSession(): Promise<Session | null> {
  try {
    const session = await request<Session>(chatd.api.GET('/api/v1/auth/session'));
    setCsrfToken(session.csrf_token ?? undefined);
    return session;
  } catch (error) {
    if (error instanceof ChatdApiError && error.status === 401) return null;
    throw error;
  }
}

/** Logs in with a password; the session cookie is set by the answer. */
export async function logIn(username: string, password: string): Promise<Session> {
  const session = await request<Session>(
    chatd.api.POST('/api/v1/auth/login', { body: { username, password } }),
  );
  setCsrfToken(session.csrf_token ?? undefined);
  return session;
}

/** Ends this browser's session. */
export async function logOut(): Promise<void> {
  try {
    await request(chatd.api.POST('/api/v1/auth/logout'));
  } finally {
    setCsrfToken(undefined);
  }
}

/** Login sessions: restore, log in, log out (the client keeps the CSRF token for unsafe requests). */
import {
  logIn as clientLogIn,
  logOut as clientLogOut,
  restoreSession as clientRestoreSession,
} from '@chatd/client';
import { ChatdApiError, chatd } from './client';
import type { Session } from './types';

/** The session of this browser, or `null` when nobody is logged in (401). */
export async function restoreSession(): Promise<Session | null> {
  try {
    return await clientRestoreSession(chatd);
  } catch (error) {
    if (error instanceof ChatdApiError && error.status === 401) return null;
    throw error;
  }
}

/** Logs in with a password; the answer sets the session cookie. */
export function logIn(username: string, password: string): Promise<Session> {
  return clientLogIn(chatd, username, password);
}

/** Ends this browser's session. */
export function logOut(): Promise<void> {
  return clientLogOut(chatd);
}

import type { ChatdClient } from './chatd-client.js';
import type { components } from './generated/api.js';

/** Who is logged in, as login and `GET /api/v1/auth/session` answer (the generated schema). */
export type SessionInfo = components['schemas']['SessionInfo'];

/**
 * Logs in with a password (`POST /api/v1/auth/login`): the answer sets the session cookie (in a browser)
 * and the client keeps the CSRF token for later unsafe requests.
 * @throws {import('./api-error.js').ChatdApiError} `E_UNAUTHORIZED` (401) or `E_RATE_LIMITED` (429).
 */
export async function logIn(client: ChatdClient, username: string, password: string): Promise<SessionInfo> {
  const session = await client.call(client.api.POST('/api/v1/auth/login', { body: { username, password } }));
  client.setCsrfToken(session.csrf_token);
  return session;
}

/**
 * The session of the page's cookie (`GET /api/v1/auth/session`), its CSRF token kept by the client; rejects
 * with a 401 {@link import('./api-error.js').ChatdApiError} when there is none.
 */
export async function restoreSession(client: ChatdClient): Promise<SessionInfo> {
  const session = await client.call(client.api.GET('/api/v1/auth/session'));
  // null: the page is authenticated by a bearer token, which needs no CSRF token.
  client.setCsrfToken(session.csrf_token ?? undefined);
  return session;
}

/** Ends the session (`POST /api/v1/auth/logout`) and forgets its CSRF token. */
export async function logOut(client: ChatdClient): Promise<void> {
  try {
    await client.call(client.api.POST('/api/v1/auth/logout'));
  } finally {
    client.setCsrfToken(undefined);
  }
}

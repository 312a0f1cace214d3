/** The one API client of the app: same origin, the session cookie, and the CSRF token once known. */
import { type ApiResult, ChatdApiError, createChatdClient, type DataOf } from '@chatd/client';

export { ChatdApiError } from '@chatd/client';

/** The client every API module uses. */
export const chatd = createChatdClient({ baseUrl: window.location.origin });

const unauthorizedListeners = new Set<() => void>();
const forbiddenListeners = new Set<() => void>();

/** Calls `listener` whenever the server answers 401 (the session ended); returns the unsubscribe. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/**
 * Calls `listener` whenever the server answers 403 (the user may not do that: perhaps their role
 * changed since the page loaded); returns the unsubscribe.
 */
export function onForbidden(listener: () => void): () => void {
  forbiddenListeners.add(listener);
  return () => forbiddenListeners.delete(listener);
}

/**
 * Tells the {@link onUnauthorized} listeners when `error` is a 401, the {@link onForbidden} ones when it
 * is a 403; returns `error` to rethrow.
 */
export function noticeAuthFailure(error: unknown): unknown {
  if (error instanceof ChatdApiError && error.status === 401)
    for (const listener of unauthorizedListeners) listener();
  if (error instanceof ChatdApiError && error.status === 403)
    for (const listener of forbiddenListeners) listener();
  return error;
}

/**
 * Reads an empty body that openapi-fetch leaves unread (a 202 with `content-length: 0`): Chromium reports
 * an unread body as a request aborted (`net::ERR_ABORTED`), which looks like a failure in the browser.
 */
async function drainEmptyBody({ response }: ApiResult): Promise<void> {
  if (!response.bodyUsed && response.headers.get('content-length') === '0')
    await response.arrayBuffer().catch(() => undefined);
}

/**
 * Awaits a `chatd.api` request: its data (typed by the generated OpenAPI paths), or a thrown
 * {@link ChatdApiError}. A 401 or a 403 also tells their listeners (see {@link noticeAuthFailure}).
 */
export async function request<Result extends ApiResult>(pending: Promise<Result>): Promise<DataOf<Result>> {
  try {
    return await chatd.call(
      pending.then(async (result) => {
        await drainEmptyBody(result);
        return result;
      }),
    );
  } catch (error) {
    throw noticeAuthFailure(error);
  }
}

/** The one API client of the app: same origin, the session cookie, and the CSRF token once known. */
import { type ApiResult, ChatdApiError, createChatdClient, type DataOf } from '@chatd/client';

export { ChatdApiError } from '@chatd/client';

/** The client every API module uses. */
export const chatd = createChatdClient({ baseUrl: window.location.origin });

const unauthorizedListeners = new Set<() => void>();

/** Calls `listener` whenever the server answers 401 (the session ended); returns the unsubscribe. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Tells the {@link onUnauthorized} listeners when `error` is a 401; returns `error` to rethrow. */
export function noticeUnauthorized(error: unknown): unknown {
  if (error instanceof ChatdApiError && error.status === 401)
    for (const listener of unauthorizedListeners) listener();
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
 * {@link ChatdApiError}. A 401 also tells the {@link onUnauthorized} listeners.
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
    throw noticeUnauthorized(error);
  }
}

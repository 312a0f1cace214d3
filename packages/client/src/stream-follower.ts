import { ChatdApiError } from './api-error.js';
import { type ChatdClient, isAbort } from './chatd-client.js';
import { readServerSentEvents } from './server-sent-events.js';
import { type ChatStreamEvent, toChatStreamEvent } from './stream-events.js';

/** Where a {@link ChatStreamFollower}'s connection is. */
export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Options of {@link followChatStream}; durations in ms. */
export interface FollowChatStreamOptions {
  /** Resume after this message id (the newest message the caller already holds). */
  readonly afterId?: number | undefined;
  /** Stops following (the follower then closes without an error). */
  readonly signal?: AbortSignal | undefined;
  /** Every event, in order; `message` events at most once each, even across reconnections. */
  readonly onEvent: (event: ChatStreamEvent) => void;
  readonly onState?: ((state: StreamState) => void) | undefined;
  /**
   * A connection that receives nothing (chatd sends a keepalive every 15 s) for this long is taken as
   * dead and replaced; default 45000.
   */
  readonly idleTimeoutMs?: number | undefined;
  /** The first reconnection delay, doubled up to `maxRetryDelayMs` while attempts fail; default 250. */
  readonly retryDelayMs?: number | undefined;
  /** Default 5000. */
  readonly maxRetryDelayMs?: number | undefined;
}

/** A stream being followed. */
export interface ChatStreamFollower {
  /**
   * Settles when following ends: resolves when closed by the caller or after a `deleted` event; rejects
   * with a {@link ChatdApiError} when chatd refuses the stream for good (401, 403, 404: the credential was
   * revoked, the chat is not the caller's or is gone).
   */
  readonly done: Promise<void>;
  /** The newest message id delivered (what a reconnection resumes after). */
  readonly lastMessageId: number;
  /** Stops following. */
  close(): void;
}

/** Statuses worth retrying: chatd is starting, stopping or overloaded, or a proxy lost it for a moment. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Follows a chat's event stream, reconnecting after drops. Each (re)connection sends the newest message id
 * delivered as `Last-Event-ID`, so chatd replays exactly the messages after it (and the current status);
 * a `message` whose id was already delivered is dropped, so none arrives twice. Text parts streamed while
 * the connection was down are not replayed: the turn's final `message` carries the whole answer.
 */
export function followChatStream(
  client: ChatdClient,
  chatId: string,
  options: FollowChatStreamOptions,
): ChatStreamFollower {
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const firstDelayMs = options.retryDelayMs ?? 250;
  const maxDelayMs = options.maxRetryDelayMs ?? 5_000;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let lastMessageId = options.afterId ?? 0;
  let deleted = false;

  const setState = (state: StreamState) => options.onState?.(state);

  const deliver = (event: ChatStreamEvent): void => {
    if (event.type === 'message') {
      const id = Number(event.message.id);
      if (id <= lastMessageId) return;
      lastMessageId = id;
    } else if (event.type === 'truncate') {
      // Messages past after_id are gone; replacements get new, larger ids.
      lastMessageId = Math.min(lastMessageId, event.after_id);
    } else if (event.type === 'deleted') {
      deleted = true;
    }
    options.onEvent(event);
  };

  /** One connection: resolves when it ends (by chatd, the network, or idleness); rejects on a fatal answer. */
  async function connectOnce(): Promise<{ received: boolean }> {
    const connection = new AbortController();
    const abortConnection = () => connection.abort();
    stop.signal.addEventListener('abort', abortConnection, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdleTimer = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(abortConnection, idleTimeoutMs);
    };
    let received = false;
    try {
      armIdleTimer();
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastMessageId > 0) headers['last-event-id'] = String(lastMessageId);
      const response = await client.fetch(`/api/v1/chats/${encodeURIComponent(chatId)}/stream`, {
        headers,
        signal: connection.signal,
      });
      if (!response.ok) {
        const body: unknown = await response.json().catch(() => undefined);
        const error = ChatdApiError.fromResponse(response, body);
        if (RETRYABLE_STATUSES.has(response.status)) return { received: false };
        throw error;
      }
      if (response.body === null) return { received: false };
      setState('open');
      const reader = response.body.getReader();
      // Ending the connection (close(), the idle timer) must end a read in progress. Aborting the
      // request's signal alone does not always do it once the body streams (seen with Node 20's fetch
      // under load: `done` never settled); cancelling the reader ends the pending read at once.
      const cancelRead = () => void reader.cancel().catch(() => undefined);
      if (connection.signal.aborted) cancelRead();
      connection.signal.addEventListener('abort', cancelRead, { once: true });
      const onChunk = () => {
        received = true;
        armIdleTimer();
      };
      for await (const message of readServerSentEvents(reader, { onChunk })) {
        const event = toChatStreamEvent(message.event, message.data);
        if (event) deliver(event);
        if (deleted || connection.signal.aborted) break;
      }
      if (deleted) await reader.cancel().catch(() => undefined);
      return { received };
    } catch (error) {
      // A dropped or idle connection, or the caller stopping: not fatal (the loop decides).
      if (error instanceof ChatdApiError && error.status !== 0) throw error;
      if (isAbort(error) || error instanceof ChatdApiError || error instanceof TypeError) return { received };
      throw error;
    } finally {
      clearTimeout(idleTimer);
      stop.signal.removeEventListener('abort', abortConnection);
    }
  }

  async function run(): Promise<void> {
    let delayMs = firstDelayMs;
    let first = true;
    try {
      while (!stop.signal.aborted && !deleted) {
        setState(first ? 'connecting' : 'reconnecting');
        first = false;
        const { received } = await connectOnce();
        if (stop.signal.aborted || deleted) break;
        if (received) delayMs = firstDelayMs;
        setState('reconnecting');
        await sleep(jitter(delayMs), stop.signal);
        delayMs = Math.min(delayMs * 2, maxDelayMs);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      setState('closed');
    }
  }

  const done = run();
  // A caller that only uses onEvent must not see an unhandled rejection; `done` still rejects for awaiters.
  done.catch(() => undefined);
  return {
    done,
    get lastMessageId() {
      return lastMessageId;
    },
    close: () => stop.abort(),
  };
}

/** Up to 20 % less, so that many clients dropped at once do not all come back in the same instant. */
function jitter(ms: number): number {
  return ms * (0.8 + Math.random() * 0.2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A small client of chatd's HTTP API (v1), for the scale test and integration tests: JSON calls with
 * errors surfaced as {@link ChatdApiError}, and a chat's Server-Sent Events stream as an async iterator.
 *
 * It speaks HTTP through `node:http` (keep-alive connections of the global agent) rather than `fetch`:
 * the load generator shares the machine with the servers it measures, and fetch's web streams cost it
 * about twice the CPU per request.
 */
import http from 'node:http';
import https from 'node:https';

/** A chat as the API returns it. */
export interface ChatJson {
  id: string;
  title: string;
  status: 'pending' | 'running' | 'waiting' | 'error';
  model_config_id: string | null;
  last_error: string | null;
  archived: boolean;
}

/** A message as the API (and the stream) returns it. */
export interface MessageJson {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  model_config_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  created_at: string;
  /** How an assistant message ended (wave 2); absent on user messages and on older servers. */
  finish_reason?: 'stop' | 'length' | 'interrupted' | 'error' | null;
}

/** One Server-Sent Event. */
export interface StreamEvent {
  event: string;
  data: unknown;
  id?: string;
}

/** A non-2xx answer. */
export class ChatdApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ChatdApiError';
  }
}

/**
 * Connection failures that, against chatd, mean the request never reached the application:
 * - the connection could not be made;
 * - a pooled keep-alive connection was already closed when it was reused (the server closes idle
 *   connections; a client whose event loop lags can reuse one a moment too late): a reset or broken pipe,
 *   retried only on a reused connection.
 * Retrying these does not run a request twice; the load report counts every retry.
 */
const CONNECT_FAILURE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT']);
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** How long a JSON request may take in all (a stream has no limit: it lasts as long as its chat). */
const REQUEST_TIMEOUT_MS = 300_000;

/** A request failure, and whether it happened on a reused keep-alive connection. */
interface SendFailure extends Error {
  reusedSocket?: boolean;
}

/** Options of a {@link ChatdClient}. */
export interface ChatdClientOptions {
  /** Attempts per request on connection failures (see above); default 3. */
  readonly connectionAttempts?: number;
  /** Called for each retry, so that load reports can count them. */
  readonly onConnectionRetry?: (error: Error) => void;
}

export class ChatdClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #options: ChatdClientOptions;

  /** @param baseUrl the server, e.g. http://127.0.0.1:3000 */
  constructor(baseUrl: string, token: string, options: ChatdClientOptions = {}) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#options = options;
  }

  /** The server this client talks to, without a trailing slash. */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  /** The API token this client sends. */
  get token(): string {
    return this.#token;
  }

  /** A client of the same user (token and options) talking to another server, e.g. another replica. */
  withBaseUrl(baseUrl: string): ChatdClient {
    return new ChatdClient(baseUrl, this.#token, this.#options);
  }

  /** Calls `method path` with a JSON body; resolves the parsed answer (undefined for 204/empty). */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await this.#send(method, path, {
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      body: payload,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await readText(response);
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!isSuccess(response)) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ChatdApiError(response.statusCode!, error?.code ?? 'E_UNKNOWN', error?.message ?? text);
    }
    return json as T;
  }

  /** Sends a request and resolves its response head; retried on connection failures that prove the
   *  server never got it. */
  async #send(
    method: string,
    path: string,
    init: { headers: Record<string, string>; body?: string | undefined; signal?: AbortSignal | undefined },
  ): Promise<http.IncomingMessage> {
    const attempts = this.#options.connectionAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await sendOnce(new URL(`${this.#baseUrl}${path}`), method, {
          ...init,
          headers: { authorization: `Bearer ${this.#token}`, ...init.headers },
        });
      } catch (error) {
        const code = connectionErrorCode(error);
        const retryable =
          code !== undefined &&
          (CONNECT_FAILURE_CODES.has(code) ||
            (STALE_CONNECTION_CODES.has(code) && (error as SendFailure).reusedSocket === true));
        if (!retryable || attempt >= attempts || init.signal?.aborted) {
          throw new Error(`${(error as Error).message}${code ? ` (${code})` : ''}`, { cause: error });
        }
        this.#options.onConnectionRetry?.(error as Error);
      }
    }
  }

  createChat(content: string, modelConfigId?: string): Promise<ChatJson> {
    return this.request('POST', '/api/v1/chats', {
      content,
      ...(modelConfigId ? { model_config_id: modelConfigId } : {}),
    });
  }

  sendMessage(
    chatId: string,
    content: string,
  ): Promise<{ queued: boolean; message?: MessageJson; queued_message?: { id: number } }> {
    return this.request('POST', `/api/v1/chats/${chatId}/messages`, { content });
  }

  getChat(chatId: string): Promise<{ chat: ChatJson; messages: MessageJson[]; queued_messages: unknown[] }> {
    return this.request('GET', `/api/v1/chats/${chatId}`);
  }

  /**
   * Follows a chat's event stream until `signal` aborts or the server ends it. `afterId` resumes after
   * that message id (as `?after_id`); `lastEventId` does the same as a reconnecting EventSource does, with
   * the `Last-Event-ID` header (the `id` of the last event received).
   */
  async *stream(
    chatId: string,
    options: { afterId?: number; lastEventId?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<StreamEvent> {
    const query = options.afterId === undefined ? '' : `?after_id=${options.afterId}`;
    const response = await this.#send('GET', `/api/v1/chats/${chatId}/stream${query}`, {
      headers: {
        accept: 'text/event-stream',
        ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
      },
      signal: options.signal,
    });
    if (!isSuccess(response)) {
      throw new ChatdApiError(response.statusCode!, 'E_STREAM', await readText(response));
    }
    try {
      yield* parseEventStream(response);
    } finally {
      // The caller stopped early (or the stream failed): let go of the connection.
      response.destroy();
    }
  }
}

/** One request; resolves with the response head, rejects with the socket error (code set) or the abort. */
function sendOnce(
  url: URL,
  method: string,
  init: { headers: Record<string, string>; body?: string | undefined; signal?: AbortSignal | undefined },
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method,
      headers,
      ...(init.signal ? { signal: init.signal } : {}),
    });
    request.once('response', resolve);
    // Not `once`: an error can follow the response (a reset mid-body); the response stream reports that
    // to its reader, and a second 'error' without a listener would crash the process.
    request.on('error', (error: SendFailure) => {
      error.reusedSocket = request.reusedSocket;
      reject(error);
    });
    request.end(init.body);
  });
}

function isSuccess(response: http.IncomingMessage): boolean {
  return response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300;
}

async function readText(response: http.IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let text = '';
  for await (const chunk of response) text += chunk as string;
  return text;
}

/** The code of a request failure, or of its cause. */
function connectionErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Parses a `text/event-stream` body (UTF-8, `\n` or `\r\n` lines) into events; comments are skipped. */
export async function* parseEventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
      if (line === '') {
        if (data.length > 0) {
          const raw = data.join('\n');
          let parsed: unknown = raw;
          try {
            parsed = JSON.parse(raw);
          } catch {
            // Not JSON: hand over the text.
          }
          yield id === undefined ? { event, data: parsed } : { event, data: parsed, id };
        }
        event = 'message';
        data = [];
        id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  }
}

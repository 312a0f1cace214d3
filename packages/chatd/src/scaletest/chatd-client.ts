/**
 * The scale test's and the integration tests' view of chatd's HTTP API (v1), on top of `@chatd/client` (the
 * one client, which the web app uses too): typed calls for the load generator's requests, a generic
 * `request` for the tests' many routes, and a chat's Server-Sent Events stream as an async iterator.
 *
 * It speaks HTTP through `@chatd/client/node`'s fetch over `node:http` keep-alive connections: the load
 * generator shares the machine with the servers it measures, and undici's fetch costs it about twice the
 * CPU per request.
 */
import {
  type ChatdClient as ApiClient,
  ChatdApiError,
  type components,
  createChatdClient,
  readServerSentEvents,
} from '@chatd/client';
import { type NodeHttpFetchOptions, nodeHttpFetch } from '@chatd/client/node';

type Schemas = components['schemas'];

/** A chat as the API returns it (the type generated from chatd's OpenAPI document). */
export type ChatJson = Schemas['Chat'];

/** A message as the API (and the stream) returns it. */
export type MessageJson = Schemas['Message'];

/** One Server-Sent Event. */
export interface StreamEvent {
  event: string;
  data: unknown;
  id?: string;
}

export { ChatdApiError };

/** How long a JSON request may take in all (a stream has no limit: it lasts as long as its chat). */
const REQUEST_TIMEOUT_MS = 300_000;

/**
 * Options of a {@link ChatdClient}: those of its fetch (retries of requests the server never got, their
 * counters, the connection limit; see `NodeHttpFetchOptions`).
 */
export type ChatdClientOptions = NodeHttpFetchOptions;

export class ChatdClient {
  readonly #token: string;
  readonly #options: ChatdClientOptions;
  readonly #api: ApiClient;

  /** @param baseUrl the server, e.g. http://127.0.0.1:3000 */
  constructor(baseUrl: string, token: string, options: ChatdClientOptions = {}) {
    this.#token = token;
    this.#options = options;
    this.#api = createChatdClient({ baseUrl, token, fetch: nodeHttpFetch(options) });
  }

  /** The server this client talks to, without a trailing slash. */
  get baseUrl(): string {
    return this.#api.baseUrl;
  }

  /** The API token this client sends. */
  get token(): string {
    return this.#token;
  }

  /** The typed client underneath, for calls with their request and response types. */
  get api(): ApiClient {
    return this.#api;
  }

  /** A client of the same user (token and options) talking to another server, e.g. another replica. */
  withBaseUrl(baseUrl: string): ChatdClient {
    return new ChatdClient(baseUrl, this.#token, this.#options);
  }

  /**
   * Calls `method path` with a JSON body; resolves the parsed answer (undefined for 204/empty). For the
   * tests' many routes and malformed inputs; typed calls go through {@link api}.
   * @throws {ChatdApiError} on a non-2xx answer, and with status 0 when the request failed on the network.
   */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await this.#api.fetch(path, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await response.text();
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!response.ok) throw ChatdApiError.fromResponse(response, json);
    return json as T;
  }

  createChat(content: string, modelConfigId?: string): Promise<ChatJson> {
    const body = { content, ...(modelConfigId ? { model_config_id: modelConfigId } : {}) };
    return this.#api.call(this.#api.api.POST('/api/v1/chats', { body }));
  }

  sendMessage(chatId: string, content: string): Promise<Schemas['SentMessage']> {
    return this.#api.call(
      this.#api.api.POST('/api/v1/chats/{id}/messages', {
        params: { path: { id: chatId } },
        body: { content },
      }),
    );
  }

  getChat(chatId: string): Promise<Schemas['ChatDetail']> {
    return this.#api.call(this.#api.api.GET('/api/v1/chats/{id}', { params: { path: { id: chatId } } }));
  }

  /**
   * Follows a chat's event stream until `signal` aborts or the server ends it, once (no reconnection: the
   * scale test's followers decide that themselves, to count it; `followChatStream` of `@chatd/client`
   * reconnects on its own). `afterId` resumes after that message id (as `?after_id`); `lastEventId` does
   * the same as a reconnecting EventSource does, with the `Last-Event-ID` header.
   */
  async *stream(
    chatId: string,
    options: { afterId?: number; lastEventId?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<StreamEvent> {
    const query = options.afterId === undefined ? '' : `?after_id=${options.afterId}`;
    const response = await this.#api.fetch(`/api/v1/chats/${chatId}/stream${query}`, {
      headers: {
        accept: 'text/event-stream',
        ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!response.ok || response.body === null) {
      const text = await response.text();
      throw ChatdApiError.fromResponse(response, text === '' ? undefined : parseJsonOr(text, undefined));
    }
    const reader = response.body.getReader();
    try {
      for await (const { event, data, id } of readServerSentEvents(reader)) {
        const parsed = parseJsonOr(data, data);
        yield id === undefined ? { event, data: parsed } : { event, data: parsed, id };
      }
    } finally {
      // The caller stopped early (or the stream failed): let go of the connection.
      await reader.cancel().catch(() => undefined);
    }
  }
}

/** `text` parsed as JSON, or `fallback` when it is not JSON. */
function parseJsonOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

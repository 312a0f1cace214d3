/**
 * A small client of chatd's HTTP API (v1), for the scale test and integration tests: JSON calls with
 * errors surfaced as {@link ChatdApiError}, and a chat's Server-Sent Events stream as an async iterator.
 */

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

export class ChatdClient {
  readonly #baseUrl: string;
  readonly #token: string;

  /** @param baseUrl the server, e.g. http://127.0.0.1:3000 */
  constructor(baseUrl: string, token: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  /** Calls `method path` with a JSON body; resolves the parsed answer (undefined for 204/empty). */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await fetch(`${this.#baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      signal: signal ?? null,
    });
    const text = await response.text();
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ChatdApiError(response.status, error?.code ?? 'E_UNKNOWN', error?.message ?? text);
    }
    return json as T;
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
   * that message id.
   */
  async *stream(
    chatId: string,
    options: { afterId?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<StreamEvent> {
    const query = options.afterId === undefined ? '' : `?after_id=${options.afterId}`;
    const response = await fetch(`${this.#baseUrl}/api/v1/chats/${chatId}/stream${query}`, {
      headers: { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' },
      signal: options.signal ?? null,
    });
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw new ChatdApiError(response.status, 'E_STREAM', text);
    }
    yield* parseEventStream(response.body);
  }
}

/** Parses a `text/event-stream` body (UTF-8, `\n` or `\r\n` lines) into events; comments are skipped. */
export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
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

/**
 * A stand-in for `@chatd/client` with the same contract (`createChatdClient`, `ChatdApiError`,
 * `followChatStream`), used until that package lands in this branch. Delete it then and import
 * `@chatd/client` in `client.ts`.
 */
import type { ChatStreamEvent, StreamState } from './types';

/** An API error: the status and the server's `{error: {code, message}}`. */
export class ChatdApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChatdApiError';
  }
}

export interface ApiRequestInit {
  params?: { path?: Record<string, string | number>; query?: Record<string, unknown> };
  body?: unknown;
}
export interface FetchResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Creates a loosely typed client for `baseUrl`. */
export function createChatdClient({ baseUrl }: { baseUrl: string }) {
  let csrfToken: string | undefined;
  const send = async (method: string, path: string, init: ApiRequestInit = {}): Promise<FetchResult> => {
    let resolved = path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(String(init.params?.path?.[name])),
    );
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(init.params?.query ?? {}))
      if (value !== undefined && value !== null) query.set(key, String(value));
    if (query.size > 0) resolved += `?${query}`;
    const headers: Record<string, string> = {};
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (UNSAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
    const response = await fetch(baseUrl + resolved, {
      method,
      headers,
      credentials: 'same-origin',
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = response.status === 204 ? '' : await response.text();
    const json = text ? JSON.parse(text) : undefined;
    return response.ok ? { data: json, response } : { error: json, response };
  };
  const verb = (method: string) => (path: string, init?: ApiRequestInit) => send(method, path, init);
  return {
    api: {
      GET: verb('GET'),
      POST: verb('POST'),
      PUT: verb('PUT'),
      PATCH: verb('PATCH'),
      DELETE: verb('DELETE'),
    },
    setCsrfToken(token: string | undefined) {
      csrfToken = token;
    },
    async call<T = unknown>(pending: Promise<FetchResult>): Promise<T> {
      const { data, error, response } = await pending;
      if (!response.ok) {
        const body = (error as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new ChatdApiError(
          response.status,
          body?.code ?? 'E_HTTP',
          body?.message ?? response.statusText,
        );
      }
      return data as T;
    },
  };
}

export type ChatdClient = ReturnType<typeof createChatdClient>;

/** Follows a chat's stream, resuming after the last message id seen. */
export function followChatStream(
  _client: ChatdClient,
  chatId: string,
  options: {
    afterId?: number;
    signal?: AbortSignal;
    onEvent(event: ChatStreamEvent): void;
    onState?(state: StreamState): void;
  },
): void {
  let lastId = options.afterId ?? 0;
  const seen = new Set<number>();
  const run = async () => {
    let attempt = 0;
    while (!options.signal?.aborted) {
      options.onState?.(attempt === 0 ? 'connecting' : 'reconnecting');
      try {
        const response = await fetch(`/api/v1/chats/${chatId}/stream${lastId ? `?after_id=${lastId}` : ''}`, {
          credentials: 'same-origin',
          signal: options.signal,
        });
        if (response.status === 404) {
          options.onState?.('closed');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream ${response.status}`);
        options.onState?.('open');
        attempt = 0;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            let type = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (!data) continue;
            const event = { type, ...JSON.parse(data) } as ChatStreamEvent;
            if (event.type === 'message') {
              if (seen.has(event.id)) continue;
              seen.add(event.id);
              lastId = Math.max(lastId, event.id);
            }
            if (event.type === 'truncate') {
              lastId = Math.min(lastId, event.after_id);
              for (const id of seen) if (id > event.after_id) seen.delete(id);
            }
            options.onEvent(event);
            if (event.type === 'deleted') {
              options.onState?.('closed');
              return;
            }
          }
        }
      } catch {
        if (options.signal?.aborted) break;
      }
      attempt++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** attempt)));
    }
    options.onState?.('closed');
  };
  void run();
}

import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { ChatdApiError } from './api-error.js';
import type { paths } from './generated/api.js';

/** How a {@link ChatdClient} reaches chatd and proves who it is. */
export interface ChatdClientOptions {
  /** chatd's origin, e.g. `http://127.0.0.1:3000`, or `window.location.origin` in the web app. */
  readonly baseUrl: string;
  /** An API token, sent as `Authorization: Bearer …`. Without one, the browser's session cookie is used. */
  readonly token?: string | undefined;
  /** The CSRF token that login returned, for cookie sessions; see {@link ChatdClient.setCsrfToken}. */
  readonly csrfToken?: string | undefined;
  /** Headers sent with every request (a `cookie` for a session outside a browser, say). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The fetch to use; default `globalThis.fetch`. The scale test passes one over `node:http`. */
  readonly fetch?: ((request: Request) => Promise<Response>) | undefined;
}

/** The API's error body, as every non-2xx JSON answer carries it. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** What an openapi-fetch call resolves to (the part {@link ChatdClient.call} reads). */
export interface ApiResult {
  readonly data?: unknown;
  readonly error?: unknown;
  readonly response: Response;
}

/** The data of a successful answer (`undefined` for answers without a body, such as 204). */
export type DataOf<Result extends ApiResult> = [Exclude<Result['data'], undefined>] extends [never]
  ? undefined
  : Exclude<Result['data'], undefined>;

/**
 * chatd's HTTP API, typed from its OpenAPI document: `api` is an openapi-fetch client over the generated
 * `paths` (every route with its request and response types), `call` turns an answer into its data or a
 * {@link ChatdApiError}, and the credential (token or cookie session + CSRF token) is added to every request.
 */
export interface ChatdClient {
  /** The typed API: `api.GET('/api/v1/chats', { params: { query: { q } } })` → `{ data } | { error }`. */
  readonly api: Client<paths>;
  readonly baseUrl: string;
  /** Resolves to the answer's data, or rejects with a {@link ChatdApiError} (status 0: the network failed). */
  call<Result extends ApiResult>(pending: Promise<Result>): Promise<DataOf<Result>>;
  /**
   * Sets the CSRF token sent as `X-CSRF-Token` on POST, PUT, PATCH and DELETE (what cookie sessions need;
   * `undefined` after logout). `logIn` and `restoreSession` set it.
   */
  setCsrfToken(csrfToken: string | undefined): void;
  /** Replaces the API token (`undefined`: use the session cookie). */
  setToken(token: string | undefined): void;
  /** A request with the client's credentials to a path under `baseUrl`, for what is not JSON (streams). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Creates a {@link ChatdClient}. */
export function createChatdClient(options: ChatdClientOptions): ChatdClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  let token = options.token;
  let csrfToken = options.csrfToken;

  const credentials: Middleware = {
    onRequest({ request }) {
      applyCredentials(request.headers, request.method);
      return request;
    },
  };
  function applyCredentials(headers: Headers, method: string): void {
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    if (csrfToken !== undefined && UNSAFE_METHODS.has(method.toUpperCase()))
      headers.set('x-csrf-token', csrfToken);
  }

  const api = createClient<paths>({ baseUrl, fetch: fetchImpl, credentials: 'same-origin' });
  api.use(credentials);

  return {
    api,
    baseUrl,
    async call<Result extends ApiResult>(pending: Promise<Result>): Promise<DataOf<Result>> {
      let result: Result;
      try {
        result = await pending;
      } catch (error) {
        if (error instanceof ChatdApiError) throw error;
        if (isAbort(error)) throw error;
        throw new ChatdApiError(0, 'E_NETWORK', `could not reach chatd: ${messageOf(error)}`, {
          cause: error,
        });
      }
      if (result.error !== undefined || !result.response.ok) {
        throw ChatdApiError.fromResponse(result.response, result.error);
      }
      return result.data as DataOf<Result>;
    },
    setCsrfToken(value) {
      csrfToken = value;
    },
    setToken(value) {
      token = value;
    },
    async fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      applyCredentials(headers, init.method ?? 'GET');
      const request = new Request(`${baseUrl}${path}`, { credentials: 'same-origin', ...init, headers });
      try {
        return await fetchImpl(request);
      } catch (error) {
        if (isAbort(error)) throw error;
        throw new ChatdApiError(0, 'E_NETWORK', `could not reach chatd: ${messageOf(error)}`, {
          cause: error,
        });
      }
    },
  };
}

/** Whether an error is the rejection of an aborted request (the caller asked for it: not a failure). */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

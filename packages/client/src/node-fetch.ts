/**
 * A `fetch` for Node over `node:http`/`node:https` keep-alive connections, for clients that share a machine
 * with the servers they measure (the scale test's load generator): undici's fetch costs about twice the
 * CPU per request. Pass it as `createChatdClient({ fetch: nodeHttpFetch() })`. Imported from
 * `@chatd/client/node`, so that the browser build never sees `node:http`.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

/** Options of {@link nodeHttpFetch}. */
export interface NodeHttpFetchOptions {
  /**
   * Attempts per request when the server never got it: a connection failure that proves so, or a 408
   * answer; default 3. After the last, the failure is thrown (the 408 answer returned).
   */
  readonly connectionAttempts?: number;
  /** Called for each retry after a connection failure, so that load reports can count them. */
  readonly onConnectionRetry?: (error: Error) => void;
  /** Called for each retry after a 408 answer, so that load reports can count them. */
  readonly onRequestTimeoutRetry?: () => void;
  /**
   * Most connections per server for requests other than event streams; more requests wait for a free
   * one. Default: no limit. Event streams (`Accept: text/event-stream`) stay open as long as they are
   * read, so they get connections of their own, without a limit.
   *
   * A limit keeps requests on warm keep-alive connections. A client whose event loop lags (a load
   * generator on a saturated machine) otherwise opens a connection per request in a burst and may write
   * on it only after the server's headers timeout has run out since the connection was accepted (a 408).
   */
  readonly maxSockets?: number;
}

/**
 * Connection failures that mean the request never reached the application:
 * - the connection could not be made;
 * - a pooled keep-alive connection was already closed when it was reused (the server closes idle
 *   connections; a client whose event loop lags can reuse one a moment too late): a reset or broken pipe,
 *   retried only on a reused connection.
 * Retrying these does not run a request twice.
 */
const CONNECT_FAILURE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT']);
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);
/**
 * 408 Request Timeout: the server did not receive the whole request within its timeouts, so it never ran
 * it (RFC 9110 §15.5.9: the client may repeat it), and it closes the connection.
 */
const REQUEST_TIMEOUT_STATUS = 408;

interface SendFailure extends Error {
  reusedSocket?: boolean;
}

/** Creates the fetch; see the module comment. */
export function nodeHttpFetch(options: NodeHttpFetchOptions = {}): (request: Request) => Promise<Response> {
  const attempts = options.connectionAttempts ?? 3;
  // One pair of agents per fetch, so that a limit applies to this client alone.
  const agents = {
    http: agentPair(http.Agent, options.maxSockets),
    https: agentPair(https.Agent, options.maxSockets),
  };
  return async (request) => {
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string | number> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers['content-length'] = body.length;
    const url = new URL(request.url);
    const pair = url.protocol === 'https:' ? agents.https : agents.http;
    const isStream = (request.headers.get('accept') ?? '').includes('text/event-stream');
    const agent = isStream ? pair.streams : pair.requests;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await sendOnce(url, request.method, headers, body, request.signal, agent);
        if (response.statusCode === REQUEST_TIMEOUT_STATUS && attempt < attempts && !request.signal.aborted) {
          response.resume();
          options.onRequestTimeoutRetry?.();
          continue;
        }
        return await toWebResponse(response);
      } catch (error) {
        const code = connectionErrorCode(error);
        const retryable =
          code !== undefined &&
          (CONNECT_FAILURE_CODES.has(code) ||
            (STALE_CONNECTION_CODES.has(code) && (error as SendFailure).reusedSocket === true));
        if (!retryable || attempt >= attempts || request.signal.aborted) {
          if ((error as Error).name === 'AbortError') throw error;
          throw new TypeError(`fetch failed: ${(error as Error).message}${code ? ` (${code})` : ''}`, {
            cause: error,
          });
        }
        options.onConnectionRetry?.(error as Error);
      }
    }
  };
}

/**
 * The agents of one protocol: `requests` limited to `maxSockets` connections per server, `streams`
 * without a limit. Both with Node's global agents' settings (keep-alive, LIFO reuse, idle sockets closed
 * after 5 s).
 */
function agentPair(
  Agent: typeof http.Agent,
  maxSockets = Infinity,
): { requests: http.Agent; streams: http.Agent } {
  const settings = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const;
  return { requests: new Agent({ ...settings, maxSockets }), streams: new Agent(settings) };
}

/** One request; resolves with the response head, rejects with the socket error (code set) or the abort. */
function sendOnce(
  url: URL,
  method: string,
  headers: Record<string, string | number>,
  body: Buffer | undefined,
  signal: AbortSignal,
  agent: http.Agent,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method,
      headers,
      signal,
      agent,
    });
    request.once('response', resolve);
    // Not `once`: an error can follow the response (a reset mid-body); the response stream reports that
    // to its reader, and a second 'error' without a listener would crash the process.
    request.on('error', (error: SendFailure) => {
      error.reusedSocket = request.reusedSocket;
      reject(error);
    });
    request.end(body);
  });
}

/**
 * The web `Response` of a node response. A JSON answer is read whole first (cheaper than a web stream
 * per request); an event stream is handed over as a stream, read as it arrives.
 */
async function toWebResponse(response: http.IncomingMessage): Promise<Response> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const status = response.statusCode ?? 0;
  const init = { status, statusText: response.statusMessage ?? '', headers };
  if (status === 204 || status === 304 || status < 200) {
    response.resume();
    return new Response(null, init);
  }
  if ((response.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    return new Response(Readable.toWeb(response) as ReadableStream<Uint8Array>, init);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return new Response(Buffer.concat(chunks), init);
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

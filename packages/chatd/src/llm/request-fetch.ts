import { STATUS_CODES } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Dispatcher } from 'undici';

/** A WHATWG `fetch`, as the AI SDK providers take it (`createOpenAI({ fetch })` and the others). */
export type FetchFunction = typeof globalThis.fetch;

/** Redirects one call follows at most: WHATWG fetch's limit. */
const MAX_REDIRECTIONS = 20;

/** Statuses whose response has no body (WHATWG fetch's "null body status"). */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/** Chunks the response body buffers before the network reads pause (a count, not bytes). */
const BODY_HIGH_WATER_MARK = 16;

/**
 * A `fetch` on undici's `request` API rather than its WHATWG `fetch`, for the calls an AI SDK provider
 * makes: a URL, a method, headers, a string or byte body, an abort signal; a `Response` whose body
 * streams as it arrives.
 *
 * Why: a streamed answer's every chunk crosses the fetch layers before the provider's own stream
 * transforms see it, and so does every request (its string body made a web stream, then teed). Measured
 * against the scale test's mock LLM (16 chunks an answer, 100 calls at once, the same provider and
 * `doStream`): 2.8–3.2 ms of CPU per call through undici's `fetch`, 2.4–2.6 ms through this.
 *
 * What it keeps of fetch, so the providers see no difference:
 * - failures to connect or to send reject with `TypeError('fetch failed')` whose `cause` is the
 *   undici or system error (the AI SDK turns that into a retryable `APICallError`), and a body that
 *   breaks mid-stream errors with `TypeError('terminated')` and the same kind of cause;
 * - an aborted signal rejects the call, or errors the body, with the signal's reason;
 * - redirects are followed (at most 20; a 303 becomes a GET; `Authorization` and cookies are dropped on
 *   a change of origin), through the same dispatcher, so its connector checks every hop;
 * - a body sent gzip, deflate or br is decoded (none is asked for: no `Accept-Encoding` is sent, as a
 *   compressed event stream would be buffered by the server);
 * - the status text is the standard one for the status (HTTP/1.1 reason phrases are not kept).
 * A `Request` object as input, and stream or form bodies, are refused with a TypeError: no provider call
 * uses them.
 */
export function createRequestFetch(dispatcher: Dispatcher): FetchFunction {
  const requestFetch = async (input: string | URL, init: RequestInit = {}): Promise<Response> => {
    if (typeof input !== 'string' && !(input instanceof URL)) {
      throw new TypeError('the provider fetch takes a URL string or URL, not a Request');
    }
    const url = new URL(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) });
    }
    const method = (init.method ?? 'GET').toUpperCase();
    const body = requestBody(init.body);
    if (body !== null && (method === 'GET' || method === 'HEAD')) {
      throw new TypeError(`a ${method} request cannot have a body`);
    }
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();

    let response: Dispatcher.ResponseData;
    try {
      response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as Dispatcher.HttpMethod,
        headers: requestHeaders(init.headers),
        body,
        signal,
        maxRedirections: MAX_REDIRECTIONS,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new TypeError('fetch failed', { cause: error });
    }

    const { statusCode: status } = response;
    const headers = responseHeaders(response.headers);
    const responseInit = { status, statusText: STATUS_CODES[status] ?? '', headers };
    if (NULL_BODY_STATUSES.has(status) || method === 'HEAD') {
      await response.body.dump();
      return new Response(null, responseInit);
    }
    return new Response(
      webBody(decoded(response.body, headers.get('content-encoding')), signal),
      responseInit,
    );
  };
  return requestFetch as FetchFunction;
}

function requestBody(body: RequestInit['body']): string | Uint8Array | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError('the provider fetch sends string or byte bodies only');
}

/** The request headers as undici takes them; `Accept` defaults to any type, as fetch sends it. */
function requestHeaders(init: RequestInit['headers']): Record<string, string> {
  const headers: Record<string, string> = { accept: '*/*' };
  // Headers normalises every form init.headers may take (a record, pairs, a Headers) and checks names.
  new Headers(init).forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

function responseHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

/** The body decoded by its `Content-Encoding`, when that is one coding zlib knows; else as it is. */
function decoded(body: Readable, encoding: string | null): Readable {
  const coding = encoding?.trim().toLowerCase();
  const decoder =
    coding === 'gzip' || coding === 'x-gzip'
      ? createGunzip()
      : coding === 'deflate'
        ? createInflate()
        : coding === 'br'
          ? createBrotliDecompress()
          : undefined;
  // pipeline destroys both streams when either fails, and the decoder then emits the error.
  return decoder ? pipeline(body, decoder, () => {}) : body;
}

/**
 * A Node readable as a web byte stream that reads only as fast as it is consumed: the network reads
 * pause while {@link BODY_HIGH_WATER_MARK} chunks wait. Cancelling it destroys the source, which ends the
 * response (undici closes its connection).
 */
function webBody(source: Readable, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  // Once closed, errored or cancelled, the controller refuses every call: later events are ignored.
  let settled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        source.on('data', (chunk: Buffer) => {
          if (settled) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) source.pause();
        });
        source.once('end', () => {
          if (settled) return;
          settled = true;
          controller.close();
        });
        source.once('error', (error) => {
          if (settled) return;
          settled = true;
          controller.error(signal?.aborted ? signal.reason : new TypeError('terminated', { cause: error }));
        });
        // A source closed before its end without an error (not expected of undici's body) still ends
        // the stream as broken, never as complete.
        source.once('close', () => {
          if (settled) return;
          settled = true;
          controller.error(signal?.aborted ? signal.reason : new TypeError('terminated'));
        });
      },
      pull() {
        source.resume();
      },
      cancel() {
        settled = true;
        source.destroy();
      },
    },
    { highWaterMark: BODY_HIGH_WATER_MARK },
  );
}

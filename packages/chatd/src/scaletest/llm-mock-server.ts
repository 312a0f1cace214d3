import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { isTitleRequest } from '../chat/chat-titles.js';
import { InvalidInputError } from '../errors.js';
import { httpUrl } from '../http/server.js';
import {
  createLlmFaultPlan,
  LLM_FAULT_MODES,
  type LlmRequestOutcome,
  lastUserMessageText,
} from './llm-mock-faults.js';
import {
  completionObject,
  errorBody,
  errorTypeForStatus,
  type MockReply,
  mockReplyChunks,
  mockUsage,
  streamEvents,
} from './llm-mock-openai-format.js';
import {
  type LlmMockServerOptions,
  type ResolvedLlmMockOptions,
  resolveLlmMockOptions,
} from './llm-mock-options.js';

export {
  LLM_FAULT_MODES,
  type LlmFaultMode,
  type LlmRequestOutcome,
  parseLlmFaultModes,
} from './llm-mock-faults.js';
export { mockReplyChunks, mockReplyText } from './llm-mock-openai-format.js';
export {
  type LlmMockServerOptions,
  type ResolvedLlmMockOptions,
  resolveLlmMockOptions,
} from './llm-mock-options.js';

/** A chat completion request as the mock received it. */
export interface RecordedLlmRequest {
  /** The parsed JSON body (model, messages, stream, stream_options, temperature, ...). */
  readonly body: unknown;
  /** The Authorization header as sent, if any. */
  readonly authorization: string | undefined;
}

/** A running mock LLM server. */
export interface LlmMockServer {
  /** Base URL for OpenAI-compatible clients, e.g. `http://127.0.0.1:43567/v1`. */
  readonly url: string;
  /** Chat completion requests received so far (failed, injected and rejected ones included). */
  readonly requests: number;
  /** The most recent chat completion request. */
  readonly lastRequest: RecordedLlmRequest | undefined;
  /** The most recent requests, oldest first, at most `recordLimit` of them. */
  readonly recentRequests: readonly RecordedLlmRequest[];
  /** Answers in progress (streamed or waiting out their latency). */
  readonly activeResponses: number;
  /** Answers the client disconnected from before the end (an aborted stream). */
  readonly abortedResponses: number;
  /**
   * The next `count` chat completion requests fail with `status`; `body` (an object is sent as JSON, a
   * string as is) defaults to an OpenAI-style error, `headers` (such as `retry-after`) are added.
   * Injections queue up in call order.
   */
  failNext(count: number, status: number, body?: unknown, headers?: Readonly<Record<string, string>>): void;
  /**
   * The next `count` answers send `afterChunks` content chunks, then the connection is destroyed (a
   * provider failing mid-answer; a non-streamed answer is dropped without a response). Queued together
   * with {@link failNext}.
   */
  dropNext(count: number, afterChunks: number): void;
  /**
   * Valid chat completion requests by what the fault plan (`faultRate`) made of them; requests failed by
   * {@link failNext} or {@link dropNext} are not counted here.
   */
  readonly outcomes: Readonly<Record<LlmRequestOutcome, number>>;
  /**
   * Chat completion requests by the text of their last user message; empty unless
   * `recordLastUserMessages` is set.
   */
  readonly callsByLastUserMessage: ReadonlyMap<string, number>;
  /** Resolves once no answer is in progress (immediately when none is). */
  whenIdle(): Promise<void>;
  /** Ends every answer in progress and stops listening. */
  close(): Promise<void>;
}

type Fault =
  | {
      readonly kind: 'fail';
      readonly status: number;
      readonly body: unknown;
      readonly headers: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'drop'; readonly afterChunks: number };

/** What `GET /_mock/stats` answers (for a parent process that runs the mock as a child). */
export interface LlmMockStats {
  readonly requests: number;
  readonly outcomes: Readonly<Record<LlmRequestOutcome, number>>;
  /** Present when `recordLastUserMessages` is set. */
  readonly calls_by_last_user_message: Readonly<Record<string, number>>;
}

interface ChatCompletionBody {
  readonly model: string;
  readonly messages: readonly unknown[];
  readonly stream?: unknown;
  readonly stream_options?: { readonly include_usage?: unknown } | null;
  readonly max_tokens?: unknown;
  readonly max_completion_tokens?: unknown;
}

/**
 * Starts an OpenAI-compatible mock LLM on Fastify: `POST /v1/chat/completions` (streamed as
 * `chat.completion.chunk` SSE events, or a `chat.completion` object) and `GET /v1/models`. Answers are
 * deterministic ({@link mockReplyText}), paced by `latencyMs` and `chunkDelayMs`, and can be made to fail
 * ({@link LlmMockServer.failNext}, {@link LlmMockServer.dropNext}), or fail a share of requests on their
 * own (`faultRate`: HTTP 500, a cut stream, HTTP 400, a silent stream). `GET /_mock/stats` reports the
 * requests by outcome and, with `recordLastUserMessages`, by their last user message.
 *
 * Built for thousands of concurrent streams: responses are written straight to the socket (no per-chunk
 * serialisation beyond the delta itself, respecting backpressure), request logging is off, and only the
 * last few requests are kept.
 */
export async function startLlmMockServer(options: LlmMockServerOptions = {}): Promise<LlmMockServer> {
  const settings = resolveLlmMockOptions(options);
  const faults: Fault[] = [];
  const recent: RecordedLlmRequest[] = [];
  /** Answers in progress; each is aborted (its writer stops) when its connection closes. */
  const active = new Set<{ readonly controller: AbortController; readonly response: ServerResponse }>();
  let idleWaiters: (() => void)[] = [];
  let requests = 0;
  let aborted = 0;
  const plan = createLlmFaultPlan(settings.faultRate, settings.faultSeed, settings.faultModes);
  const outcomes = Object.fromEntries(['ok', ...LLM_FAULT_MODES].map((mode) => [mode, 0])) as Record<
    LlmRequestOutcome,
    number
  >;
  const callsByLastUserMessage = new Map<string, number>();

  const app = Fastify({
    logger: false,
    bodyLimit: settings.bodyLimit,
    forceCloseConnections: true,
    keepAliveTimeout: 65_000,
  });

  const authorized = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (settings.apiKey === null) return true;
    const header = request.headers.authorization;
    if (header === `Bearer ${settings.apiKey}`) return true;
    // Like OpenAI, name the key that was rejected (OpenAI masks the middle; the mock does not, which lets
    // tests check that clients keep it out of their own error messages).
    const sent = header?.replace(/^Bearer\s+/i, '') ?? '';
    void reply
      .code(401)
      .send(errorBody(`Incorrect API key provided: ${sent}.`, 'invalid_request_error', 'invalid_api_key'));
    return false;
  };

  app.get('/v1/models', async (request, reply) => {
    if (!authorized(request, reply)) return reply;
    const created = Math.floor(Date.now() / 1000);
    return {
      object: 'list',
      data: settings.models.map((id) => ({ id, object: 'model', created, owned_by: 'chatd-mock' })),
    };
  });

  app.get(
    '/_mock/stats',
    async (): Promise<LlmMockStats> => ({
      requests,
      outcomes: { ...outcomes },
      calls_by_last_user_message: Object.fromEntries(callsByLastUserMessage),
    }),
  );

  app.post('/v1/chat/completions', async (request, reply) => {
    requests++;
    const record: RecordedLlmRequest = { body: request.body, authorization: request.headers.authorization };
    recent.push(record);
    if (recent.length > settings.recordLimit) recent.shift();

    const fault = faults.shift();
    if (fault?.kind === 'fail') {
      return reply.code(fault.status).headers(fault.headers).send(fault.body);
    }
    if (!authorized(request, reply)) return reply;
    const body = request.body;
    if (!isChatCompletionBody(body)) {
      return reply
        .code(400)
        .send(
          errorBody(
            'A chat completion needs a string `model` and a `messages` array.',
            'invalid_request_error',
          ),
        );
    }
    // Title requests carry the chat's first message too: they are not calls for it.
    if (settings.recordLastUserMessages && !isTitleRequest(body.messages)) {
      const text = lastUserMessageText(body.messages);
      if (text !== undefined) callsByLastUserMessage.set(text, (callsByLastUserMessage.get(text) ?? 0) + 1);
    }
    // Queued injections come first; the random plan decides for the others.
    const outcome: LlmRequestOutcome = fault ? 'ok' : plan.next();
    if (!fault) outcomes[outcome] += 1;
    if (outcome === 'http-500') {
      return reply.code(500).send(errorBody('mock fault: the server had an error', 'server_error'));
    }
    if (outcome === 'http-400') {
      return reply
        .code(400)
        .send(errorBody('mock fault: the request was refused', 'invalid_request_error', 'mock_fault'));
    }

    const controller = new AbortController();
    const exchange: Exchange = {
      response: reply.raw,
      answer: planAnswer(body, settings),
      includeUsage: body.stream_options?.include_usage === true,
      settings,
      signal: controller.signal,
      dropAfter:
        fault?.kind === 'drop'
          ? fault.afterChunks
          : outcome === 'cut'
            ? Math.max(1, Math.floor(settings.responseTokens / 2))
            : undefined,
      silent: outcome === 'silent',
    };
    const entry = { controller, response: reply.raw };
    active.add(entry);
    // Hijacked: the response is written straight to the socket, outside Fastify's reply lifecycle.
    reply.hijack();
    const response = reply.raw;
    response.on('close', () => {
      // 'close' also follows a normal end; an unfinished response the server did not end itself (drop,
      // close) was abandoned by the client.
      if (!response.writableFinished && !controller.signal.aborted) aborted++;
      controller.abort();
      active.delete(entry);
      if (active.size === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
    const write = body.stream === true ? writeStream : writeCompletion;
    write(exchange).then(
      (outcome) => {
        if (outcome === 'drop') {
          controller.abort();
          response.destroy();
        }
      },
      () => {
        controller.abort();
        response.destroy();
      },
    );
  });

  await app.listen({ host: settings.host, port: settings.port, backlog: 4096 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  const url = `${httpUrl(settings.host, port)}/v1`;

  return {
    url,
    get requests() {
      return requests;
    },
    get lastRequest() {
      return recent.at(-1);
    },
    get recentRequests() {
      return recent.slice();
    },
    get activeResponses() {
      return active.size;
    },
    get abortedResponses() {
      return aborted;
    },
    get outcomes() {
      return { ...outcomes };
    },
    get callsByLastUserMessage() {
      return callsByLastUserMessage;
    },
    failNext(count, status, body, headers = {}) {
      checkCount(count);
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new InvalidInputError(
          `an injected failure needs an HTTP error status (400-599), got ${status}`,
        );
      }
      const payload = body ?? errorBody(`mock failure (HTTP ${status})`, errorTypeForStatus(status));
      for (let i = 0; i < count; i++) faults.push({ kind: 'fail', status, body: payload, headers });
    },
    dropNext(count, afterChunks) {
      checkCount(count);
      checkCount(afterChunks);
      for (let i = 0; i < count; i++) faults.push({ kind: 'drop', afterChunks });
    },
    whenIdle() {
      if (active.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      // Aborted before being destroyed, so that these do not count as client aborts.
      for (const { controller, response } of active) {
        controller.abort();
        response.destroy();
      }
      await app.close();
      for (const resolve of idleWaiters) resolve();
      idleWaiters = [];
    },
  };
}

function checkCount(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(`expected a non-negative integer, got ${value}`);
  }
}

function isChatCompletionBody(body: unknown): body is ChatCompletionBody {
  if (typeof body !== 'object' || body === null) return false;
  const candidate = body as Partial<ChatCompletionBody>;
  return typeof candidate.model === 'string' && Array.isArray(candidate.messages);
}

/** Words of the mock's answer to a title request (`isTitleRequest`). */
export const MOCK_TITLE_WORDS = 5;

function planAnswer(body: ChatCompletionBody, settings: ResolvedLlmMockOptions): MockReply {
  const limit = [body.max_completion_tokens, body.max_tokens].find(
    (value): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0,
  );
  // A title request is answered as a model answers it: with a title, a few words (the instruction asks
  // for at most six), not with an answer's length.
  const wanted = isTitleRequest(body.messages)
    ? Math.min(MOCK_TITLE_WORDS, settings.responseTokens)
    : settings.responseTokens;
  const tokens = limit === undefined ? wanted : Math.min(limit, wanted);
  return {
    id: `chatcmpl-${randomUUID()}`,
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    chunks: mockReplyChunks(tokens),
    finishReason: tokens < wanted ? 'length' : 'stop',
    usage: mockUsage(promptCharacters(body.messages), tokens),
  };
}

function promptCharacters(messages: readonly unknown[]): number {
  let characters = 0;
  for (const message of messages) {
    const content = (message as { content?: unknown } | null)?.content;
    if (typeof content === 'string') characters += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') characters += text.length;
      }
    }
  }
  return characters;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

/** One answer being written. */
interface Exchange {
  readonly response: ServerResponse;
  readonly answer: MockReply;
  /** The request asked for a final usage chunk (`stream_options.include_usage`). */
  readonly includeUsage: boolean;
  readonly settings: ResolvedLlmMockOptions;
  /** Aborts when the client goes away or the server closes. */
  readonly signal: AbortSignal;
  /** Content chunks to send before breaking the connection (an injected mid-answer failure). */
  readonly dropAfter: number | undefined;
  /** Send the headers and the first chunk, then nothing until the client goes away. */
  readonly silent: boolean;
}

/** How writing ended: completely, cut short because the client left, or due for an injected drop. */
type WriteOutcome = 'done' | 'gone' | 'drop';

/**
 * Streams an answer. Events due at the same moment are written together (with `chunkDelayMs` 0 the
 * whole answer is one write); every pause ends early when the client goes away.
 */
async function writeStream(exchange: Exchange): Promise<WriteOutcome> {
  const { response, settings, signal, dropAfter } = exchange;
  const events = streamEvents(exchange.answer, exchange.includeUsage);
  response.writeHead(200, { ...SSE_HEADERS, 'x-request-id': exchange.answer.id });
  // Headers go out at once, as OpenAI's do; the first token follows after the latency.
  response.flushHeaders();
  if (!(await pause(settings.latencyMs, signal))) return 'gone';
  if (exchange.silent) {
    if (!(await flush(response, events.role, signal))) return 'gone';
    return waitForAbort(signal);
  }
  let pending = events.role;
  for (let index = 0; index < events.content.length && index !== dropAfter; index++) {
    if (index > 0 && settings.chunkDelayMs > 0) {
      if (!(await flush(response, pending, signal))) return 'gone';
      pending = '';
      if (!(await pause(settings.chunkDelayMs, signal))) return 'gone';
    }
    pending += events.content[index];
  }
  if (dropAfter !== undefined) {
    if (!(await flush(response, pending, signal))) return 'gone';
    // Give the written chunks time to reach the client before the connection breaks, like a provider
    // failing mid-answer (rather than a response that never arrived).
    return (await pause(Math.max(settings.chunkDelayMs, 5), signal)) ? 'drop' : 'gone';
  }
  response.end(pending + events.finish + (events.usage ?? '') + events.done);
  return 'done';
}

/** Writes the non-streamed answer once the time to generate it (latency plus chunk pacing) has passed. */
async function writeCompletion(exchange: Exchange): Promise<WriteOutcome> {
  const { response, answer, settings, signal } = exchange;
  const generationMs = settings.latencyMs + settings.chunkDelayMs * Math.max(0, answer.chunks.length - 1);
  if (exchange.silent) return waitForAbort(signal);
  if (!(await pause(generationMs, signal))) return 'gone';
  if (exchange.dropAfter !== undefined) return 'drop';
  response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': answer.id });
  response.end(JSON.stringify(completionObject(answer)));
  return 'done';
}

/** Writes and, when the socket buffer is full, waits for it to drain; false when the client went away. */
async function flush(response: ServerResponse, data: string, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (data === '' || response.write(data)) return true;
  return new Promise((resolve) => {
    const done = (drained: boolean) => {
      response.off('drain', onDrain);
      signal.removeEventListener('abort', onAbort);
      resolve(drained);
    };
    const onDrain = () => done(true);
    const onAbort = () => done(false);
    response.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves 'gone' once `signal` aborts (the client went away, or the server closed). */
function waitForAbort(signal: AbortSignal): Promise<WriteOutcome> {
  if (signal.aborted) return Promise.resolve('gone');
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve('gone'), { once: true }));
}

/** Waits `ms` (0: not at all); false when `signal` aborted first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

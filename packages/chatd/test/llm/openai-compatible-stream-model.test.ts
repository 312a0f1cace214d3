import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3StreamPart,
} from '@ai-sdk/provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLanguageModel } from '../../src/llm/language-model-factory.js';
import { createProviderFetch } from '../../src/llm/provider-fetch.js';

/**
 * The `openai-compat` model's own stream reader against the AI SDK's `@ai-sdk/openai-compatible` model,
 * the oracle: the same calls to the same loopback server must send the same request and give the same
 * stream parts (or the same error), whatever the server streams and however its bytes are split.
 */

/** What the server answers: a status, and the body as segments written apart (so they arrive apart). */
interface RawReply {
  readonly status?: number;
  readonly contentType?: string;
  readonly segments: ReadonlyArray<string | Buffer>;
  /** Destroy the socket after the segments instead of ending the response. */
  readonly cut?: boolean;
}

interface ReceivedRequest {
  readonly path: string;
  /** Set when the client went away before the whole body was written. */
  closedEarly?: boolean;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let server: Server;
let baseUrl: string;
let reply: RawReply;
const received: ReceivedRequest[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const request: ReceivedRequest = { path: req.url ?? '', headers: req.headers, body };
      received.push(request);
      res.on('close', () => {
        request.closedEarly = !res.writableFinished;
      });
      const { status = 200, contentType = 'text/event-stream', segments, cut } = reply;
      res.writeHead(status, { 'content-type': contentType });
      res.flushHeaders();
      void (async () => {
        for (const segment of segments) {
          if (res.destroyed) return;
          res.write(segment);
          // Apart enough that each segment is its own read on the client.
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
        if (cut) res.socket?.destroy();
        else res.end();
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const fetch = createProviderFetch();
const API_KEY = 'sk-test-key';

/** chatd's model for the server (the stream reader) and the SDK's, made the way chatd made it before. */
function models(): { chatd: LanguageModelV3; sdk: LanguageModelV3 } {
  const connection = { kind: 'openai-compat' as const, apiKey: API_KEY, baseUrl };
  return {
    chatd: createLanguageModel(connection, 'test-model'),
    sdk: createOpenAICompatible({
      name: 'openai-compat',
      baseURL: baseUrl,
      apiKey: API_KEY,
      includeUsage: true,
      fetch,
    }).chatModel('test-model'),
  };
}

const PROMPT: LanguageModelV3CallOptions['prompt'] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
  { role: 'assistant', content: [{ type: 'text', text: 'Hi! ✨' }] },
  { role: 'user', content: [{ type: 'text', text: 'And then?' }] },
];

/** A part or an error as plain data: errors by class, message and the fields a turn reads. */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const fields = value as Error & {
      statusCode?: number;
      isRetryable?: boolean;
      responseBody?: string;
      url?: string;
      requestBodyValues?: unknown;
    };
    return {
      error: value.constructor.name,
      message: value.message,
      statusCode: fields.statusCode,
      isRetryable: fields.isRetryable,
      responseBody: fields.responseBody,
      url: fields.url,
      requestBody:
        fields.requestBodyValues === undefined ? undefined : JSON.stringify(fields.requestBodyValues),
    };
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
  }
  return value;
}

/** Everything one `doStream` gave: the parts, or where it failed (the call, or a read after some parts). */
async function run(model: LanguageModelV3, options: Partial<LanguageModelV3CallOptions> = {}) {
  const parts: unknown[] = [];
  try {
    const { stream } = await model.doStream({ prompt: PROMPT, ...options });
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(plain(value as LanguageModelV3StreamPart));
    }
    return { parts };
  } catch (error) {
    return { parts, rejected: plain(error) };
  }
}

/** Runs both models on `answer` and expects the same result and the same request; returns chatd's. */
async function expectSameAsSdk(answer: RawReply, options: Partial<LanguageModelV3CallOptions> = {}) {
  const { chatd, sdk } = models();
  reply = answer;
  received.length = 0;
  const fromSdk = await run(sdk, options);
  const fromChatd = await run(chatd, options);
  expect(fromChatd).toEqual(fromSdk);
  expect(received).toHaveLength(2);
  const [sdkRequest, chatdRequest] = received as [ReceivedRequest, ReceivedRequest];
  // Each response's close comes after the client saw its end.
  await expect.poll(() => [sdkRequest, chatdRequest].every((r) => r.closedEarly !== undefined)).toBe(true);
  expect(chatdRequest.closedEarly).toBe(sdkRequest.closedEarly);
  expect(chatdRequest.path).toBe(sdkRequest.path);
  expect(chatdRequest.body).toBe(sdkRequest.body);
  for (const header of ['authorization', 'content-type', 'user-agent']) {
    expect(chatdRequest.headers[header]).toBe(sdkRequest.headers[header]);
  }
  return fromChatd;
}

function event(chunk: object): string {
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

function delta(delta: object, extra: object = {}): string {
  return event({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_733_100_000,
    model: 'test-model',
    choices: [{ index: 0, delta, finish_reason: null }],
    ...extra,
  });
}

function finish(reason: string, usage?: object): string {
  return event({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_733_100_000,
    model: 'test-model',
    choices: [{ index: 0, delta: {}, finish_reason: reason }],
    ...(usage ? { usage } : {}),
  });
}

const USAGE = {
  prompt_tokens: 12,
  completion_tokens: 3,
  total_tokens: 15,
  prompt_tokens_details: { cached_tokens: 4 },
  completion_tokens_details: { reasoning_tokens: 1, accepted_prediction_tokens: 2 },
};

describe('the openai-compat stream reader against the AI SDK model', () => {
  it('streams text with usage as the SDK does, and sends the same request with every setting', async () => {
    const result = await expectSameAsSdk(
      {
        segments: [
          delta({ role: 'assistant', content: '' }),
          delta({ content: 'Hello' }),
          delta({ content: ', world' }),
          finish('stop'),
          event({ id: 'chatcmpl-1', choices: [], usage: USAGE }),
          'data: [DONE]\n\n',
        ],
      },
      {
        temperature: 0.5,
        maxOutputTokens: 100,
        topP: 0.9,
        topK: 40,
        presencePenalty: 0.1,
        frequencyPenalty: 0.2,
        stopSequences: ['END'],
        seed: 7,
      },
    );
    // The test would pass on two empty results: make sure this one is the answer.
    const texts = result.parts.filter((part) => (part as { type: string }).type === 'text-delta');
    expect(texts.map((part) => (part as { delta: string }).delta)).toEqual(['Hello', ', world']);
    expect(result.parts[0]).toEqual({
      type: 'stream-start',
      warnings: [{ type: 'unsupported', feature: 'topK' }],
    });
    expect(result.parts.at(-1)).toMatchObject({
      type: 'finish',
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: { inputTokens: { total: 12, cacheRead: 4 }, outputTokens: { total: 3, reasoning: 1 } },
      providerMetadata: { 'openai-compat': { acceptedPredictionTokens: 2 } },
    });
    expect(result.rejected).toBeUndefined();
  });

  it('reads events split anywhere, a multi-byte character and a CRLF line end included', async () => {
    const whole = Buffer.from(
      delta({ content: 'Grüße 🌍' }).replace('\n\n', '\r\n\r\n') +
        delta({ content: ' ok' }) +
        finish('length', USAGE),
    );
    const emoji = whole.indexOf(Buffer.from('🌍'));
    const result = await expectSameAsSdk({
      segments: [
        whole.subarray(0, 7),
        whole.subarray(7, emoji + 2),
        whole.subarray(emoji + 2, whole.length - 3),
        whole.subarray(whole.length - 3),
      ],
    });
    expect(result.parts.filter((part) => (part as { type: string }).type === 'text-delta')).toEqual([
      { type: 'text-delta', id: 'txt-0', delta: 'Grüße 🌍' },
      { type: 'text-delta', id: 'txt-0', delta: ' ok' },
    ]);
    expect(result.parts.at(-1)).toMatchObject({ finishReason: { unified: 'length', raw: 'length' } });
  });

  it('drops a byte order mark at the start of the stream, as the SDK does', async () => {
    const result = await expectSameAsSdk({
      segments: [Buffer.from([0xef, 0xbb]), Buffer.from([0xbf]), delta({ content: 'first' }), finish('stop')],
    });
    expect(result.parts).toContainEqual({ type: 'text-delta', id: 'txt-0', delta: 'first' });
  });

  it('stops the response when the parts are cancelled, as the SDK does', async () => {
    const { chatd, sdk } = models();
    reply = { segments: Array.from({ length: 200 }, () => delta({ content: 'b' })) };
    received.length = 0;
    for (const model of [sdk, chatd]) {
      const { stream } = await model.doStream({ prompt: PROMPT });
      const reader = stream.getReader();
      let part = await reader.read();
      while (!part.done && part.value.type !== 'text-delta') part = await reader.read();
      await reader.cancel();
      expect(await reader.read()).toEqual({ done: true, value: undefined });
    }
    await expect.poll(() => received.map((request) => request.closedEarly)).toEqual([true, true]);
  });

  it('streams reasoning, content parts and a refusal as the SDK does', async () => {
    const result = await expectSameAsSdk({
      segments: [
        delta({ reasoning_content: 'Let me think' }),
        delta({ reasoning: ' more' }),
        delta({ content: 'Answer' }),
        delta({
          content: [
            { type: 'thinking', thinking: [{ type: 'text', text: 'again' }] },
            { type: 'text', text: ' and text' },
            { type: 'image', url: 'ignored' },
          ],
        }),
        delta({ refusal: ' no' }),
        delta({ refusal: false }),
        finish('stop', USAGE),
      ],
    });
    expect(result.parts.map((part) => (part as { type: string }).type)).toContain('reasoning-end');
    // A refusal makes a `stop` a content filter.
    expect(result.parts.at(-1)).toMatchObject({ finishReason: { unified: 'content-filter', raw: 'stop' } });
  });

  it('gives the same error parts for an error event, bad JSON, a wrong shape and a missing finish', async () => {
    const result = await expectSameAsSdk({
      segments: [
        delta({ content: 'partial' }),
        event({ error: { message: 'model overloaded', type: 'server_error', code: 503 } }),
        'data: {not json\n\n',
        event({ choices: 'not a list' }),
        ': a comment line\n\n',
      ],
    });
    // One per bad event; the missing finish adds none after an error (the finish says `error`).
    const errors = result.parts.filter((part) => (part as { type: string }).type === 'error');
    expect(errors).toHaveLength(3);
    expect(result.parts.at(-1)).toMatchObject({ type: 'finish', finishReason: { unified: 'error' } });

    // Shapes the SDK refuses although a text turn would not read the field: tool calls, an error's type.
    const refused = await expectSameAsSdk({
      segments: [
        delta({ content: 'x', tool_calls: [{ index: 0 }] }),
        event({ error: { message: 'typed', type: 5 } }),
        finish('stop'),
      ],
    });
    expect(refused.parts.filter((part) => (part as { type: string }).type === 'error')).toHaveLength(2);
    expect(refused.parts.some((part) => (part as { type: string }).type === 'text-delta')).toBe(false);

    const unfinished = await expectSameAsSdk({
      segments: [delta({ content: 'cut short' }), 'data: [DONE]\n\n'],
    });
    expect(unfinished.parts.at(-2)).toMatchObject({
      type: 'error',
      error: { message: 'Response stream ended without a finish reason.' },
    });
  });

  it('rejects the call as the SDK does for HTTP errors, with the same status, message and retryability', async () => {
    const tooMany = await expectSameAsSdk({
      status: 429,
      contentType: 'application/json',
      segments: [JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } })],
    });
    expect(tooMany.rejected).toMatchObject({ statusCode: 429, isRetryable: true, message: 'slow down' });
    const broken = await expectSameAsSdk({
      status: 500,
      contentType: 'text/plain',
      segments: ['upstream broke'],
    });
    expect(broken.rejected).toMatchObject({ statusCode: 500, isRetryable: true });
    const refused = await expectSameAsSdk({
      status: 401,
      contentType: 'application/json',
      segments: [JSON.stringify({ error: { message: 'bad key' } })],
    });
    expect(refused.rejected).toMatchObject({ statusCode: 401, isRetryable: false, message: 'bad key' });
  });

  it('fails a read as the SDK does when the connection breaks mid-answer', async () => {
    const result = await expectSameAsSdk({ segments: [delta({ content: 'half' })], cut: true });
    expect(result.parts.some((part) => (part as { type: string }).type === 'text-delta')).toBe(true);
    expect(result.rejected).toMatchObject({
      error: 'APICallError',
      message: 'Failed to process successful response',
      statusCode: 200,
      isRetryable: true,
    });
  });

  it('rejects as the SDK does when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const connection = {
      kind: 'openai-compat' as const,
      apiKey: API_KEY,
      baseUrl: `http://127.0.0.1:${port}/v1`,
    };
    const sdk = createOpenAICompatible({
      name: 'openai-compat',
      baseURL: connection.baseUrl,
      includeUsage: true,
      fetch,
    }).chatModel('m');
    const fromSdk = await run(sdk);
    const fromChatd = await run(createLanguageModel(connection, 'm'));
    expect(fromChatd).toEqual(fromSdk);
    expect(fromChatd.rejected).toMatchObject({ error: 'APICallError', isRetryable: true });
  });

  it('ends the stream as the SDK does when the call is aborted mid-answer, and stops the response', async () => {
    const { chatd, sdk } = models();
    reply = {
      segments: [delta({ content: 'a' }), ...Array.from({ length: 200 }, () => delta({ content: 'b' }))],
    };
    received.length = 0;
    const abortMidAnswer = async (model: LanguageModelV3) => {
      const controller = new AbortController();
      const { stream } = await model.doStream({ prompt: PROMPT, abortSignal: controller.signal });
      const reader = stream.getReader();
      const seen: string[] = [];
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return { seen };
          seen.push(value.type);
          if (value.type === 'text-delta') controller.abort(new Error('stop now'));
        }
      } catch (error) {
        return { seen, failure: plain(error) };
      }
    };
    const fromSdk = await abortMidAnswer(sdk);
    const fromChatd = await abortMidAnswer(chatd);
    expect(fromChatd).toEqual(fromSdk);
    expect(fromChatd.seen).toContain('text-delta');
    expect(fromChatd.seen).not.toContain('finish');
    expect(fromChatd.failure).toBeDefined();
    await expect.poll(() => received[1]?.closedEarly).toBe(true);
  });

  it('hands calls it does not serve (tools, provider options) and every doGenerate to the SDK model', async () => {
    const tools = [
      {
        type: 'function' as const,
        name: 'lookup',
        inputSchema: { type: 'object' as const, properties: {} },
      },
    ];
    reply = {
      segments: [
        delta({ tool_calls: [{ index: 0, id: 'call-1', function: { name: 'lookup', arguments: '{}' } }] }),
        finish('tool_calls', USAGE),
      ],
    };
    const result = await expectSameAsSdk(reply, { tools });
    expect(JSON.parse(received[1]!.body).tools).toHaveLength(1);
    expect(result.parts.map((part) => (part as { type: string }).type)).toContain('tool-call');
    await expectSameAsSdk(reply, { providerOptions: { 'openai-compat': { user: 'someone' } } });
    expect(JSON.parse(received[1]!.body).user).toBe('someone');
    await expectSameAsSdk(reply, { tools, toolChoice: { type: 'required' } });
    expect(JSON.parse(received[1]!.body).tool_choice).toBe('required');
    await expectSameAsSdk(reply, { responseFormat: { type: 'json' } });
    expect(JSON.parse(received[1]!.body).response_format).toEqual({ type: 'json_object' });
    await expectSameAsSdk(reply, { headers: { 'x-extra': 'yes' } });
    expect(received[1]!.headers['x-extra']).toBe('yes');
    const raw = await expectSameAsSdk(reply, { includeRawChunks: true });
    expect(raw.parts.map((part) => (part as { type: string }).type)).toContain('raw');

    reply = {
      contentType: 'application/json',
      segments: [
        JSON.stringify({
          id: 'x',
          created: 1,
          model: 'test-model',
          choices: [{ index: 0, message: { role: 'assistant', content: 'whole' }, finish_reason: 'stop' }],
          usage: USAGE,
        }),
      ],
    };
    const { chatd } = models();
    const generated = await chatd.doGenerate({ prompt: PROMPT });
    expect(generated.content).toEqual([{ type: 'text', text: 'whole' }]);
  });
});

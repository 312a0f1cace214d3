import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, runChatTurn, TurnAbortedError } from '../../src/llm/index.js';
import {
  type LlmMockServer,
  mockReplyChunks,
  mockReplyText,
  startLlmMockServer,
} from '../../src/scaletest/llm-mock-server.js';
import { FAST_RETRIES, rejectionOf, turnRequest } from './turn-fixtures.js';

const API_KEY = 'sk-live-SECRET-4f9a2c';
const RESPONSE_TOKENS = 8;

let mock: LlmMockServer;
let slowMock: LlmMockServer;

beforeAll(async () => {
  mock = await startLlmMockServer({ apiKey: API_KEY, responseTokens: RESPONSE_TOKENS });
  // Paced, so that a test can act while the answer is still streaming.
  slowMock = await startLlmMockServer({ responseTokens: 200, chunkDelayMs: 5 });
});

afterAll(async () => {
  await Promise.all([mock.close(), slowMock.close()]);
});

function compat(baseUrl: string, apiKey: string | null = API_KEY) {
  return { kind: 'openai-compat', apiKey, baseUrl } as const;
}

describe('retries', () => {
  let requestsBefore: number;
  beforeEach(() => {
    requestsBefore = mock.requests;
  });
  const requestsSeen = () => mock.requests - requestsBefore;

  it('retries 429 until the provider answers', async () => {
    mock.failNext(2, 429);
    const { request, deltas } = turnRequest(compat(mock.url));
    const result = await runChatTurn(request, FAST_RETRIES);
    expect(result.text).toBe(mockReplyText(RESPONSE_TOKENS));
    expect(deltas.join('')).toBe(result.text);
    expect(requestsSeen()).toBe(3);
  });

  it('retries 503', async () => {
    mock.failNext(1, 503);
    const result = await runChatTurn(turnRequest(compat(mock.url)).request, FAST_RETRIES);
    expect(result.text).toBe(mockReplyText(RESPONSE_TOKENS));
    expect(requestsSeen()).toBe(2);
  });

  it('honours Retry-After only up to the cap', async () => {
    // Two minutes asked for, 20 ms allowed: the test finishing at all shows the cap applied.
    mock.failNext(1, 429, undefined, { 'retry-after': '120' });
    mock.failNext(1, 503, undefined, { 'retry-after-ms': '90000' });
    const startedAt = performance.now();
    const result = await runChatTurn(turnRequest(compat(mock.url)).request, FAST_RETRIES);
    expect(result.text).toBe(mockReplyText(RESPONSE_TOKENS));
    expect(requestsSeen()).toBe(3);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });

  it('does not retry 400: ProviderError with the status and the provider message', async () => {
    mock.failNext(1, 400, {
      error: {
        message: "'messages' must not be empty",
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
    const error = await rejectionOf(runChatTurn(turnRequest(compat(mock.url)).request, FAST_RETRIES));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      code: 'E_PROVIDER',
      status: 400,
      retryable: false,
      attempts: 1,
      message: "openai-compat returned HTTP 400: 'messages' must not be empty",
    });
    expect(requestsSeen()).toBe(1);
  });

  it('does not retry 401, and keeps the API key out of the message even when the provider echoes it', async () => {
    const wrongKey = 'sk-wrong-KEY-77e1b0';
    const error = await rejectionOf(
      runChatTurn(turnRequest(compat(mock.url, wrongKey)).request, FAST_RETRIES),
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 401, retryable: false, attempts: 1 });
    const message = (error as ProviderError).message;
    expect(message).toBe('openai-compat returned HTTP 401: Incorrect API key provided: [redacted].');
    expect(message).not.toContain(wrongKey);
    expect(JSON.stringify(error)).not.toContain(wrongKey);
    expect(mock.lastRequest?.authorization).toBe(`Bearer ${wrongKey}`);
    expect(requestsSeen()).toBe(1);
  });

  it('gives up after maxRetries: ProviderError, still retryable', async () => {
    mock.failNext(3, 500);
    const error = await rejectionOf(
      runChatTurn(turnRequest(compat(mock.url)).request, { ...FAST_RETRIES, maxRetries: 2 }),
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      status: 500,
      retryable: true,
      attempts: 3,
      message: 'openai-compat returned HTTP 500: mock failure (HTTP 500) (gave up after 3 attempts)',
    });
    expect(requestsSeen()).toBe(3);
  });

  it('retries a refused connection, then fails with a readable ProviderError', async () => {
    const closedPort = await freePort();
    const error = await rejectionOf(
      runChatTurn(turnRequest(compat(`http://127.0.0.1:${closedPort}/v1`)).request, {
        ...FAST_RETRIES,
        maxRetries: 1,
      }),
    );
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: undefined, retryable: true, attempts: 2 });
    expect((error as ProviderError).message).toMatch(/^openai-compat connection failed: .*ECONNREFUSED/);
  });

  it('does not retry once text has been forwarded', async () => {
    mock.dropNext(1, 3);
    const { request, deltas } = turnRequest(compat(mock.url));
    const error = await rejectionOf(runChatTurn(request, FAST_RETRIES));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ attempts: 1, partialText: mockReplyChunks(3).join('') });
    expect((error as ProviderError).message).toMatch(
      /^openai-compat connection failed: .* \(the answer had already started, so it was not retried\)$/,
    );
    expect(deltas).toEqual(mockReplyChunks(3));
    expect(requestsSeen()).toBe(1);
  });

  it('retries a connection dropped before any text', async () => {
    mock.dropNext(1, 0);
    const { request, deltas } = turnRequest(compat(mock.url));
    const result = await runChatTurn(request, FAST_RETRIES);
    expect(result.text).toBe(mockReplyText(RESPONSE_TOKENS));
    expect(deltas).toEqual(mockReplyChunks(RESPONSE_TOKENS));
    expect(requestsSeen()).toBe(2);
  });
});

describe('abort', () => {
  it('aborting mid-stream rejects with TurnAbortedError and closes the connection', async () => {
    const abortedBefore = slowMock.abortedResponses;
    const controller = new AbortController();
    const { request, deltas } = turnRequest(compat(slowMock.url, null), {
      signal: controller.signal,
      onTextDelta: (delta) => {
        if (delta.includes('sit')) controller.abort();
      },
    });
    const error = await rejectionOf(runChatTurn(request, FAST_RETRIES));
    expect(error).toBeInstanceOf(TurnAbortedError);
    expect(error).toMatchObject({ code: 'E_TURN_ABORTED', partialText: mockReplyChunks(4).join('') });
    expect(deltas).toEqual(mockReplyChunks(4));
    await slowMock.whenIdle();
    expect(slowMock.abortedResponses).toBe(abortedBefore + 1);
  });

  it('an abort during the retry backoff ends the wait at once', async () => {
    mock.failNext(1, 503);
    const controller = new AbortController();
    const { request } = turnRequest(compat(mock.url), { signal: controller.signal });
    const startedAt = performance.now();
    const error = await rejectionOf(
      runChatTurn(request, {
        retryBaseDelayMs: 60_000,
        // Called as the backoff is computed: abort once the wait has begun.
        random: () => {
          setImmediate(() => controller.abort());
          return 1;
        },
      }),
    );
    expect(error).toBeInstanceOf(TurnAbortedError);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });

  it('when onTextDelta throws, the stream is cancelled and the turn rejects with that error', async () => {
    const abortedBefore = slowMock.abortedResponses;
    const failure = new Error('subscriber went away');
    const { request } = turnRequest(compat(slowMock.url, null), {
      onTextDelta: () => {
        throw failure;
      },
    });
    await expect(runChatTurn(request, FAST_RETRIES)).rejects.toBe(failure);
    await slowMock.whenIdle();
    expect(slowMock.abortedResponses).toBe(abortedBefore + 1);
  });
});

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

import { generateText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TITLE_INSTRUCTION } from '../../src/chat/chat-titles.js';
import { createLanguageModel, runChatTurn } from '../../src/llm/index.js';
import {
  type LlmMockServer,
  MOCK_TITLE_WORDS,
  mockReplyChunks,
  mockReplyText,
  startLlmMockServer,
} from '../../src/scaletest/llm-mock-server.js';
import { turnRequest } from './turn-fixtures.js';

const API_KEY = 'sk-test-0123456789';
const RESPONSE_TOKENS = 12;
const LATENCY_MS = 20;

const system = 'You are chatd.';
const messages = [
  { role: 'user', content: 'What is chatd?' },
  { role: 'assistant', content: 'A chat daemon.' },
  { role: 'user', content: 'Tell me more.' },
] as const;

let mock: LlmMockServer;

beforeAll(async () => {
  mock = await startLlmMockServer({
    apiKey: API_KEY,
    latencyMs: LATENCY_MS,
    // Paced widely enough that the first delta reliably arrives while the rest is still being sent.
    chunkDelayMs: 10,
    responseTokens: RESPONSE_TOKENS,
  });
});

afterAll(async () => {
  await mock.close();
});

describe('provider warnings', () => {
  it('hands over what the provider ignores, and a throwing handler does not fail the turn', async () => {
    const warnings: unknown[] = [];
    const { request } = turnRequest(
      { kind: 'openai-compat', apiKey: API_KEY, baseUrl: mock.url },
      { options: { top_k: 5, temperature: 0.2 } },
    );
    const result = await runChatTurn({
      ...request,
      onWarning: (warning) => {
        warnings.push(warning);
        throw new Error('a broken warning handler');
      },
    });
    expect(result.text).toBe(mockReplyText(RESPONSE_TOKENS));
    expect(warnings).toEqual([{ type: 'unsupported', feature: 'topK' }]);
  });
});

describe.each(['openai-compat', 'openai'] as const)('%s provider against the mock server', (kind) => {
  it('streams the answer incrementally, maps usage and sends the assembled request', async () => {
    const stillStreamingAtFirstDelta: boolean[] = [];
    const { request, deltas } = turnRequest(
      { kind, apiKey: API_KEY, baseUrl: mock.url },
      {
        model: 'mock-model',
        system,
        messages,
        options: { temperature: 0.3, max_output_tokens: 100, ignored_option: 'x' },
        onTextDelta: () => {
          if (stillStreamingAtFirstDelta.length === 0)
            stillStreamingAtFirstDelta.push(mock.activeResponses > 0);
        },
      },
    );
    const requestsBefore = mock.requests;

    const result = await runChatTurn(request);

    expect(result.text).toBe(mockReplyText(RESPONSE_TOKENS));
    expect(deltas).toEqual(mockReplyChunks(RESPONSE_TOKENS));
    // The first delta was handed over while the mock was still sending the rest of the answer.
    expect(stillStreamingAtFirstDelta).toEqual([true]);
    const promptCharacters = system.length + messages.reduce((sum, m) => sum + m.content.length, 0);
    expect(result.usage).toEqual({
      inputTokens: Math.ceil(promptCharacters / 4),
      outputTokens: RESPONSE_TOKENS,
    });
    // Timers may fire up to a millisecond early relative to performance.now().
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(LATENCY_MS - 2);

    expect(mock.requests).toBe(requestsBefore + 1);
    expect(mock.lastRequest?.authorization).toBe(`Bearer ${API_KEY}`);
    expect(mock.lastRequest?.body).toMatchObject({
      model: 'mock-model',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      max_tokens: 100,
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: messages[0].content },
        { role: 'assistant', content: messages[1].content },
        { role: 'user', content: messages[2].content },
      ],
    });
    expect(mock.lastRequest?.body).not.toHaveProperty('ignored_option');
  });
});

describe('mock server', () => {
  it('answers non-streamed completions, honouring max_tokens', async () => {
    const result = await generateText({
      model: createLanguageModel({ kind: 'openai-compat', apiKey: API_KEY, baseUrl: mock.url }, 'mock-model'),
      prompt: 'hi',
      maxOutputTokens: 5,
      maxRetries: 0,
    });
    expect(result.text).toBe(mockReplyText(5));
    expect(result.finishReason).toBe('length');
    expect(result.usage.outputTokens).toBe(5);
    expect(mock.lastRequest?.body).toMatchObject({ max_tokens: 5 });
    expect(mock.lastRequest?.body).not.toHaveProperty('stream', true);
  });

  it("answers a title request with a title, a few words, whatever the answers' length", async () => {
    const result = await generateText({
      model: createLanguageModel({ kind: 'openai-compat', apiKey: API_KEY, baseUrl: mock.url }, 'mock-model'),
      system: TITLE_INSTRUCTION,
      prompt: 'plan a weekend in Paris',
      maxOutputTokens: 32,
      maxRetries: 0,
    });
    expect(MOCK_TITLE_WORDS).toBeLessThan(RESPONSE_TOKENS);
    expect(result.text).toBe(mockReplyText(MOCK_TITLE_WORDS));
    expect(result.finishReason).toBe('stop');
  });

  it('lists models and rejects a wrong key like OpenAI does', async () => {
    const models = await fetch(`${mock.url}/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(await models.json()).toMatchObject({
      object: 'list',
      data: [{ id: 'mock-model', object: 'model' }],
    });
    const denied = await fetch(`${mock.url}/models`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('streams OpenAI chat.completion.chunk events, usage last, then [DONE]', async () => {
    const response = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'm',
        messages: [{ role: 'user', content: 'abcd' }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 2,
      }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.replace(/^data: /, '')));
    expect(chunks.map((chunk) => chunk.object)).toEqual(Array(chunks.length).fill('chat.completion.chunk'));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(chunks.slice(1, 3).map((chunk) => chunk.choices[0].delta.content)).toEqual(mockReplyChunks(2));
    expect(chunks[3].choices[0]).toMatchObject({ delta: {}, finish_reason: 'length' });
    expect(chunks[4]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    expect(chunks.slice(0, 4).every((chunk) => chunk.usage === null)).toBe(true);
  });

  it('holds many answers open at once, and close() ends them instead of waiting', async () => {
    const streams = 100;
    const slow = await startLlmMockServer({ latencyMs: 60_000 });
    // Headers arrive at once; the first token would take a minute. So once every request has its
    // headers, every answer is in progress at the same time.
    const responses = await Promise.all(
      Array.from({ length: streams }, () =>
        fetch(`${slow.url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [], stream: true }),
        }),
      ),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(slow.activeResponses).toBe(streams);
    await slow.close();
    const bodies = await Promise.allSettled(responses.map((response) => response.text()));
    expect(bodies.every((body) => body.status === 'rejected')).toBe(true);
    expect(slow.activeResponses).toBe(0);
    expect(slow.abortedResponses).toBe(0);
  });

  it('streams complete, correct answers to many concurrent clients', async () => {
    const streams = 100;
    const bodies = await Promise.all(
      Array.from({ length: streams }, async () => {
        const response = await fetch(`${mock.url}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
        });
        return response.text();
      }),
    );
    const expected = mockReplyChunks(RESPONSE_TOKENS).map((chunk) => `"content":${JSON.stringify(chunk)}`);
    for (const body of bodies) {
      expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(body.match(/"content":"[^"]+"/g)).toEqual(expected);
    }
    await mock.whenIdle();
    expect(mock.activeResponses).toBe(0);
  });
});

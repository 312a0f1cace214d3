import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/db/rows.js';
import { ProviderError, runTextCall, type TextCallRequest, TurnAbortedError } from '../../src/llm/index.js';
import { type ScriptedLlm, type ScriptedReply, startScriptedLlm } from '../support/scripted-llm.js';
import { rejectionOf } from './turn-fixtures.js';

const API_KEY = 'sk-live-TEXTCALL-77c1';

/** Answers by the user message: `fail` with HTTP 401 naming the key, `slow` after 2 s, others whole. */
function script(request: { lastUserContent: string }): ScriptedReply {
  if (request.lastUserContent === 'fail') return { status: 401, message: `invalid key ${API_KEY}` };
  if (request.lastUserContent === 'slow') return { chunks: ['late'], firstDelayMs: 2_000 };
  if (request.lastUserContent === 'hang') return { chunks: [], end: 'hang' };
  return { chunks: ['A short', ' answer'] };
}

let llm: ScriptedLlm;
beforeAll(async () => {
  llm = await startScriptedLlm(script);
});
afterAll(() => llm.close());

function textRequest(content: string, signal = new AbortController().signal): TextCallRequest {
  return {
    provider: { kind: 'openai-compat', apiKey: API_KEY, baseUrl: llm.url },
    model: 'scripted',
    options: { temperature: 0.2, max_output_tokens: 100 } as JsonObject,
    maxOutputTokens: 32,
    system: 'Be brief.',
    messages: [{ role: 'user', content }],
    signal,
  };
}

describe('runTextCall', () => {
  it('asks once, not streamed, with the prompt and settings, and answers the whole text', async () => {
    const result = await runTextCall(textRequest('hello'));
    expect(result).toEqual({ text: 'A short answer' });
    const sent = llm.requests.at(-1)!;
    expect(sent.body.stream).not.toBe(true);
    expect(sent.body).toMatchObject({ temperature: 0.2, max_tokens: 32 });
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hello' },
    ]);
    expect(sent.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('rejects an HTTP error with a ProviderError that names the status, not the key, and does not retry', async () => {
    const before = llm.requests.length;
    const error = await rejectionOf(runTextCall(textRequest('fail')));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ status: 401, retryable: false, attempts: 1 });
    expect((error as Error).message).toMatch(/^openai-compat returned HTTP 401/);
    expect((error as Error).message).not.toContain(API_KEY);
    expect(llm.requests.length - before).toBe(1);
  });

  it('rejects with TurnAbortedError when aborted, before the call or during it', async () => {
    expect(await rejectionOf(runTextCall(textRequest('hello', AbortSignal.abort())))).toBeInstanceOf(
      TurnAbortedError,
    );
    const controller = new AbortController();
    const pending = runTextCall(textRequest('slow', controller.signal));
    setTimeout(() => controller.abort(), 50);
    const startedAt = Date.now();
    expect(await rejectionOf(pending)).toBeInstanceOf(TurnAbortedError);
    expect(Date.now() - startedAt).toBeLessThan(1_500);
    // The provider's connection was closed, not left to answer.
    await expect.poll(() => llm.requests.at(-1)?.closedEarlyAt).toBeDefined();
  });

  it('cuts a call off at its timeout with a ProviderError that says so', async () => {
    const error = await rejectionOf(runTextCall(textRequest('hang'), { timeoutMs: 100 }));
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as Error).message).toBe(
      'openai-compat did not answer within 0.1 s, so the call was cut off',
    );
    expect(error).toMatchObject({ retryable: false });
  });

  it('rejects a provider that cannot be reached as a retryable connection failure', async () => {
    const request = {
      ...textRequest('hello'),
      provider: { kind: 'openai-compat', apiKey: null, baseUrl: 'http://127.0.0.1:1/v1' },
    } as const;
    const error = await rejectionOf(runTextCall(request));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ retryable: true, status: undefined });
    expect((error as Error).message).toMatch(/^openai-compat connection failed/);
  });
});

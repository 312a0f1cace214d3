import { generateText } from 'ai';
import { describe, expect, it } from 'vitest';
import { builtinSummary } from '../../src/llm/builtin-model.js';
import {
  callSettingsFromOptions,
  createLanguageModel,
  type InspectReport,
  ProviderError,
  runChatTurn,
  TurnAbortedError,
} from '../../src/llm/index.js';
import { summariseConversation } from '../../src/llm/summary-call.js';
import { rejectionOf, turnRequest } from './turn-fixtures.js';

const builtin = { kind: 'builtin', apiKey: null, baseUrl: null } as const;

describe('builtin provider', () => {
  it('echo streams the last user message in several deltas, with usage', async () => {
    const { request, deltas } = turnRequest(builtin, {
      model: 'echo',
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'The quick brown fox\njumps over the lazy dog. ' },
      ],
    });
    const result = await runChatTurn(request);

    expect(result.text).toBe('The quick brown fox\njumps over the lazy dog. ');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(result.text);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBe(Math.ceil(result.text.length / 4));
    expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
  });

  it('inspect reports the system prompt, the messages and exactly the options that were set', async () => {
    const { request, deltas } = turnRequest(builtin, {
      model: 'inspect',
      system: 'You are chatd.\n\nUser prompt: be terse.',
      options: {
        temperature: 0.25,
        max_output_tokens: 256,
        top_p: 0.9,
        stop: 'END',
        seed: 7,
        reasoning: 'high', // unknown: ignored
        top_k: 'many', // wrong type: ignored
      },
      messages: [
        { role: 'user', content: 'abc' },
        { role: 'assistant', content: 'defgh' },
        { role: 'user', content: 'ijklmnopq' },
      ],
    });
    const result = await runChatTurn(request);
    const report = JSON.parse(result.text) as InspectReport;

    expect(report).toEqual({
      model: 'inspect',
      system: 'You are chatd.\n\nUser prompt: be terse.',
      message_count: 3,
      messages: [
        { role: 'user', length: 3 },
        { role: 'assistant', length: 5 },
        { role: 'user', length: 9 },
      ],
      options: { temperature: 0.25, maxOutputTokens: 256, topP: 0.9, stopSequences: ['END'], seed: 7 },
      // o200k_base: 3 priming; each message 3 + its role (1) + its text.
      prompt_tokens: expect.any(Number),
    });
    expect(report.prompt_tokens).toBeGreaterThanOrEqual(3 + 4 * 4);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(result.text);
  });

  it("sends the output limit the prompt was fitted for, or the options' lower one", async () => {
    const { request } = turnRequest(builtin, { model: 'inspect', options: { max_output_tokens: 256 } });
    const capped = JSON.parse(
      (await runChatTurn({ ...request, maxOutputTokens: 100 })).text,
    ) as InspectReport;
    expect(capped.options.maxOutputTokens).toBe(100);
    const lower = JSON.parse(
      (await runChatTurn({ ...request, maxOutputTokens: 1_000 })).text,
    ) as InspectReport;
    expect(lower.options.maxOutputTokens).toBe(256);
  });

  it('answers a summary call with the first words of each message, within the output limit', async () => {
    for (const model of ['echo', 'inspect']) {
      const result = await summariseConversation({
        provider: builtin,
        model,
        options: {},
        previousSummary: 'Summary: user: an older question',
        messages: [
          { role: 'user', content: 'one two three four five six seven eight nine ten\nsecond line' },
          { role: 'assistant', content: 'an answer' },
        ],
        maxOutputTokens: 1_000,
        signal: new AbortController().signal,
      });
      expect(result.text).toBe(
        'Summary: user: an older question / user: one two three four five six seven eight / assistant: an answer',
      );
    }
    expect(builtinSummary('[user] é é é é', 12)).toBe('Summary: use');
    expect(Buffer.byteLength(builtinSummary('[user] éééééé', 21))).toBeLessThanOrEqual(21);
  });

  it('inspect reports no system prompt as null and no options as {}', async () => {
    const { request } = turnRequest(builtin, { model: 'inspect', system: '' });
    const report = JSON.parse((await runChatTurn(request)).text) as InspectReport;
    expect(report.system).toBeNull();
    expect(report.options).toEqual({});
    expect(report.message_count).toBe(1);
  });

  it('works with generateText too (doGenerate)', async () => {
    const result = await generateText({
      model: createLanguageModel(builtin, 'echo'),
      prompt: 'plain text',
      maxRetries: 0,
    });
    expect(result.text).toBe('plain text');
    expect(result.usage.outputTokens).toBe(3);
  });

  it('rejects an unknown builtin model with a clear, non-retryable ProviderError', async () => {
    const { request } = turnRequest(builtin, { model: 'gpt-5' });
    const error = await rejectionOf(runChatTurn(request));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({
      code: 'E_PROVIDER',
      retryable: false,
      attempts: 0,
      message: "builtin provider has no model 'gpt-5' (available: echo, inspect)",
    });
  });

  it('stops mid-stream when the signal aborts, keeping the text forwarded so far', async () => {
    const words = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ');
    const controller = new AbortController();
    const { request, deltas } = turnRequest(builtin, {
      model: 'echo',
      messages: [{ role: 'user', content: words }],
      signal: controller.signal,
      onTextDelta: () => controller.abort(),
    });
    const error = await rejectionOf(runChatTurn(request));
    expect(error).toBeInstanceOf(TurnAbortedError);
    expect(error).toMatchObject({ code: 'E_TURN_ABORTED', partialText: 'word0 ' });
    expect(deltas).toEqual(['word0 ']);
  });

  it('does not call the model when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { request, deltas } = turnRequest(builtin, { model: 'echo', signal: controller.signal });
    await expect(runChatTurn(request)).rejects.toBeInstanceOf(TurnAbortedError);
    expect(deltas).toEqual([]);
  });
});

describe('model factory', () => {
  it('refuses openai and anthropic providers without a key instead of reading the environment', () => {
    for (const kind of ['openai', 'anthropic'] as const) {
      expect(() => createLanguageModel({ kind, apiKey: null, baseUrl: null }, 'm')).toThrow(
        new ProviderError(`${kind} provider has no API key configured`, { retryable: false }),
      );
    }
  });

  it('refuses an openai-compat provider without a base URL', () => {
    expect(() => createLanguageModel({ kind: 'openai-compat', apiKey: 'k', baseUrl: null }, 'm')).toThrow(
      'openai-compat provider has no base URL configured',
    );
  });

  it('uses the chat completions model for openai and openai-compat', () => {
    const openai = createLanguageModel({ kind: 'openai', apiKey: 'k', baseUrl: 'http://x/v1' }, 'gpt-4o');
    const compat = createLanguageModel({ kind: 'openai-compat', apiKey: null, baseUrl: 'http://x/v1' }, 'm');
    const anthropic = createLanguageModel({ kind: 'anthropic', apiKey: 'k', baseUrl: null }, 'claude');
    expect(typeof openai === 'object' && openai.provider).toBe('openai.chat');
    expect(typeof compat === 'object' && compat.provider).toBe('openai-compat.chat');
    expect(typeof anthropic === 'object' && anthropic.provider).toBe('anthropic.messages');
  });
});

describe('call settings', () => {
  it('maps snake_case and camelCase keys, the first valid one winning', () => {
    expect(
      callSettingsFromOptions({
        temperature: 1,
        maxOutputTokens: 10,
        max_tokens: 20,
        topP: 0.5,
        top_k: 40,
        presence_penalty: 0.1,
        frequencyPenalty: -0.2,
        stop_sequences: ['a', 'b'],
        seed: 3,
      }),
    ).toEqual({
      temperature: 1,
      maxOutputTokens: 10,
      topP: 0.5,
      topK: 40,
      presencePenalty: 0.1,
      frequencyPenalty: -0.2,
      stopSequences: ['a', 'b'],
      seed: 3,
    });
  });

  it('ignores unknown keys and invalid values, and freezes the result', () => {
    const settings = callSettingsFromOptions({
      temperature: 'warm',
      max_output_tokens: 0,
      maxOutputTokens: 12.5,
      max_tokens: 64,
      top_p: null,
      seed: 1.5,
      stop: [1, 2],
      whatever: true,
    });
    expect(settings).toEqual({ maxOutputTokens: 64 });
    expect(Object.isFrozen(settings)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import {
  ESTIMATE_FACTOR,
  encodingForOpenAiModel,
  loadTokenCounter,
  messageTokenBound,
  REPLY_PRIMING_TOKENS,
  TOKENS_PER_MESSAGE,
  tokenizerFor,
} from '../../src/llm/token-counter.js';

describe('token counter', () => {
  it('maps OpenAI model names to their encodings, ignoring router and fine-tune prefixes', () => {
    expect(encodingForOpenAiModel('gpt-4o-mini')).toBe('o200k_base');
    expect(encodingForOpenAiModel('openai/gpt-4.1')).toBe('o200k_base');
    expect(encodingForOpenAiModel('ft:gpt-4o-mini:acme::abc')).toBe('o200k_base');
    expect(encodingForOpenAiModel('o3-mini')).toBe('o200k_base');
    expect(encodingForOpenAiModel('GPT-5')).toBe('o200k_base');
    expect(encodingForOpenAiModel('gpt-4-turbo')).toBe('cl100k_base');
    expect(encodingForOpenAiModel('gpt-3.5-turbo')).toBe('cl100k_base');
    expect(encodingForOpenAiModel('llama3.1:8b')).toBeUndefined();
    expect(encodingForOpenAiModel('o10')).toBeUndefined();
  });

  it('counts exactly where a tokenizer exists and estimates elsewhere', () => {
    expect(tokenizerFor('openai', 'gpt-4o')).toEqual({ encoding: 'o200k_base', exact: true, factor: 1 });
    expect(tokenizerFor('openai-compat', 'gpt-4')).toEqual({
      encoding: 'cl100k_base',
      exact: true,
      factor: 1,
    });
    expect(tokenizerFor('builtin', 'echo')).toEqual({ encoding: 'o200k_base', exact: true, factor: 1 });
    for (const [kind, model] of [
      ['anthropic', 'claude-sonnet-4-5'],
      ['openai-compat', 'qwen2.5:7b'],
      ['openai', 'some-future-model'],
    ] as const) {
      expect(tokenizerFor(kind, model)).toEqual({
        encoding: 'cl100k_base',
        exact: false,
        factor: ESTIMATE_FACTOR,
      });
    }
  });

  it('gives the known token counts of known strings', async () => {
    const o200k = await loadTokenCounter(tokenizerFor('openai', 'gpt-4o'));
    const cl100k = await loadTokenCounter(tokenizerFor('openai', 'gpt-4'));
    // OpenAI's cookbook: "tiktoken is great!" is 6 tokens in cl100k_base.
    expect(cl100k.countText('tiktoken is great!')).toBe(6);
    expect(o200k.countText('tiktoken is great!')).toBe(6);
    expect(o200k.countText('hello world')).toBe(2);
    expect(cl100k.countText('Hello, world! The quick brown fox jumps over the lazy dog.')).toBe(14);
    // Special tokens in user text are text.
    expect(o200k.countText('a <|endoftext|> b')).toBeGreaterThan(3);
    const estimated = await loadTokenCounter(tokenizerFor('anthropic', 'claude'));
    expect(estimated.countText('tiktoken is great!')).toBe(Math.ceil(6 * ESTIMATE_FACTOR));
  });

  it('counts chat messages as OpenAI documents: 3 per message, the role, the content; 3 priming', async () => {
    const counter = await loadTokenCounter(tokenizerFor('openai', 'gpt-4o'));
    expect(counter.countMessage('user', 'hello world')).toBe(TOKENS_PER_MESSAGE + 1 + 2);
    expect(counter.countMessage('assistant', '')).toBe(TOKENS_PER_MESSAGE + 1);
    expect(counter.primingTokens).toBe(REPLY_PRIMING_TOKENS);
  });

  it('bounds counts by UTF-8 bytes without a tokenizer', async () => {
    const counter = await loadTokenCounter(tokenizerFor('anthropic', 'claude'));
    for (const text of ['hello world', 'ünïcödé ✓ 中文 😀', 'x'.repeat(3000), '']) {
      expect(messageTokenBound(counter.choice, 'user', text)).toBeGreaterThanOrEqual(
        counter.countMessage('user', text),
      );
    }
  });

  it('counts pathological long runs fast and never low', async () => {
    const counter = await loadTokenCounter(tokenizerFor('openai', 'gpt-4o'));
    const startedAt = performance.now();
    // In one piece, 100,000 'a's take the BPE about 11 s.
    expect(counter.countText('a'.repeat(100_000))).toBeGreaterThanOrEqual(12_500);
    expect(counter.countText(' '.repeat(100_000))).toBeGreaterThan(0);
    expect(counter.countText('中文字符测试'.repeat(10_000))).toBeGreaterThan(20_000);
    expect(performance.now() - startedAt).toBeLessThan(3_000);
    // Under the run length the count is the tokenizer's own.
    expect(counter.countText('a'.repeat(200))).toBe(25);
  });
});

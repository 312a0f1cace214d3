import { describe, expect, it } from 'vitest';
import {
  type ContextBudget,
  compactionTrigger,
  fitPrompt,
  type PromptShape,
  planCompaction,
  promptBudget,
  promptTokens,
  summaryInputCount,
  summaryMaxTokens,
  type WindowMessage,
} from '../../src/chat/context-window.js';
import {
  defaultMaxOutputTokens,
  effectiveMaxOutputTokens,
  requireContextSettings,
} from '../../src/config/model-context-settings.js';

/** Alternating user and assistant messages of these sizes, ending with a user message. */
function history(...tokens: number[]): WindowMessage[] {
  return tokens.map((size, index) => ({
    role: (tokens.length - 1 - index) % 2 === 0 ? 'user' : 'assistant',
    tokens: size,
  }));
}

const budget: ContextBudget = { contextLimit: 1_000, maxOutputTokens: 200, compressionThreshold: 70 };

describe('context window', () => {
  it('derives the prompt budget, the trigger and the summary size from the settings', () => {
    expect(promptBudget(budget)).toBe(800);
    expect(compactionTrigger(budget)).toBe(700);
    // The trigger never exceeds what a prompt may have.
    expect(compactionTrigger({ ...budget, compressionThreshold: 100 })).toBe(800);
    expect(summaryMaxTokens(budget)).toBe(100);
    expect(summaryMaxTokens({ ...budget, maxOutputTokens: 50 })).toBe(50);
  });

  it('sends everything that fits', () => {
    const shape: PromptShape = { fixedTokens: 50, summaryTokens: 40, messages: history(100, 100, 100) };
    expect(promptTokens(shape)).toBe(390);
    expect(fitPrompt(shape, 800)).toEqual({ kind: 'fits', keepFrom: 0, withSummary: true, tokens: 390 });
  });

  it('drops the oldest messages first, keeps the summary, starts with a user message', () => {
    const shape: PromptShape = {
      fixedTokens: 50,
      summaryTokens: 40,
      messages: history(300, 300, 100, 100, 100),
    };
    // 50 + 40 + 100 + 100 + 100 = 390; the next (300) fits (690), the one after does not; the kept part
    // would start with that answer, so it goes too.
    const fit = fitPrompt(shape, 700);
    expect(fit).toEqual({ kind: 'fits', keepFrom: 2, withSummary: true, tokens: 390 });
    expect(shape.messages[2]!.role).toBe('user');
  });

  it('drops the summary when it does not fit with the newest message', () => {
    const shape: PromptShape = { fixedTokens: 50, summaryTokens: 500, messages: history(100, 100, 400) };
    expect(fitPrompt(shape, 800)).toEqual({ kind: 'fits', keepFrom: 0, withSummary: false, tokens: 650 });
  });

  it('reports a newest message that cannot fit, whatever else there is', () => {
    const shape: PromptShape = { fixedTokens: 50, summaryTokens: null, messages: history(10, 10, 790) };
    expect(fitPrompt(shape, 800)).toEqual({ kind: 'too-large', needed: 840, available: 800 });
    expect(fitPrompt({ ...shape, messages: history(750) }, 800).kind).toBe('fits');
  });

  it('plans a compaction that keeps the newest messages within half the trigger', () => {
    // Trigger 700: keep up to 350 - 50 = 300 tokens of the newest messages.
    const shape: PromptShape = {
      fixedTokens: 50,
      summaryTokens: null,
      messages: history(200, 200, 150, 100, 100),
    };
    // The newest three (100 + 100 + ... 150 would make 350 > 300): keep the last two, but the kept part
    // must start with a user message: index 3 is an answer, so the keep starts at 4.
    expect(planCompaction(shape, budget, 'threshold')).toBe(4);
    expect(planCompaction(shape, budget, 'requested')).toBe(4);
    expect(planCompaction(shape, budget, 'requested-only')).toBe(5);
    // Nothing older than the newest message: nothing to summarise.
    expect(planCompaction({ ...shape, messages: history(900) }, budget, 'threshold')).toBe(0);
  });

  it('always keeps the newest message even when it alone is over the keep budget', () => {
    const shape: PromptShape = { fixedTokens: 50, summaryTokens: null, messages: history(100, 100, 500) };
    expect(planCompaction(shape, budget, 'threshold')).toBe(2);
  });

  it('takes as many of the oldest messages as one summary call can', () => {
    expect(summaryInputCount(history(100, 100, 100, 100), 250)).toBe(2);
    expect(summaryInputCount(history(300, 100), 250)).toBe(0);
    expect(summaryInputCount([], 250)).toBe(0);
  });
});

describe('model config context settings', () => {
  it('defaults the answer reserve to 4096, never more than a quarter of the context', () => {
    expect(defaultMaxOutputTokens(128_000)).toBe(4_096);
    expect(defaultMaxOutputTokens(8_192)).toBe(2_048);
    expect(defaultMaxOutputTokens(10)).toBe(2);
    expect(defaultMaxOutputTokens(1)).toBe(1);
    expect(effectiveMaxOutputTokens({ contextLimit: 8_192, maxOutputTokens: null })).toBe(2_048);
    expect(effectiveMaxOutputTokens({ contextLimit: 8_192, maxOutputTokens: 100 })).toBe(100);
  });

  it('validates the settings together', () => {
    const ok = { contextLimit: 8_192, maxOutputTokens: 4_096, compressionThreshold: 70 };
    expect(() => requireContextSettings(ok)).not.toThrow();
    expect(() => requireContextSettings({ ...ok, maxOutputTokens: 4_097 })).toThrow(/at most half/);
    expect(() => requireContextSettings({ ...ok, maxOutputTokens: 0 })).toThrow(/max_output_tokens/);
    expect(() => requireContextSettings({ ...ok, compressionThreshold: 0 })).toThrow(/compression_threshold/);
    expect(() => requireContextSettings({ ...ok, compressionThreshold: 101 })).toThrow(
      /compression_threshold/,
    );
    expect(() => requireContextSettings({ ...ok, contextLimit: 0, maxOutputTokens: null })).toThrow(
      /context_limit/,
    );
    expect(() =>
      requireContextSettings({ contextLimit: 1, maxOutputTokens: 1, compressionThreshold: 70 }),
    ).toThrow(/leave it out/);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PartBatcher } from '../../src/chat/part-batcher.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function batcher(options: { leadingEdge?: boolean; maxChars?: number } = {}) {
  const emitted: Array<{ at: number; text: string }> = [];
  const start = Date.now();
  const parts = new PartBatcher((text) => emitted.push({ at: Date.now() - start, text }), {
    intervalMs: 100,
    maxChars: options.maxChars ?? 1_000,
    ...(options.leadingEdge === undefined ? {} : { leadingEdge: options.leadingEdge }),
  });
  return { parts, emitted };
}

/** 16 words 5 ms apart, the first after 50 ms: the mock of the first-token benchmark. */
function streamWords(parts: PartBatcher): void {
  vi.advanceTimersByTime(50);
  for (let word = 0; word < 16; word++) {
    if (word > 0) vi.advanceTimersByTime(5);
    parts.push(`w${word} `);
  }
}

describe('PartBatcher with a leading edge (the default)', () => {
  it('emits the first delta at once and gathers the next ones for a window', () => {
    const { parts, emitted } = batcher();
    streamWords(parts);
    expect(emitted).toEqual([{ at: 50, text: 'w0 ' }]);
    // The rest is the answer's tail: taken into the final publication, not emitted on its own.
    expect(parts.take()).toBe(Array.from({ length: 15 }, (_, word) => `w${word + 1} `).join(''));
    vi.advanceTimersByTime(1_000);
    expect(emitted).toHaveLength(1);
  });

  it('emits at most once per window while deltas keep coming', () => {
    const { parts, emitted } = batcher();
    for (let tick = 0; tick < 50; tick++) {
      parts.push('x');
      vi.advanceTimersByTime(10);
    }
    // 50 deltas over 500 ms: one at once, then one batch per window.
    expect(emitted.map((part) => part.at)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(emitted.map((part) => part.text.length)).toEqual([1, 9, 10, 10, 10, 10]);
    expect(parts.take()).toBe('');
  });

  it('lets a delta after a quiet window leave at once again', () => {
    const { parts, emitted } = batcher();
    parts.push('a');
    vi.advanceTimersByTime(250);
    parts.push('b');
    expect(emitted).toEqual([
      { at: 0, text: 'a' },
      { at: 250, text: 'b' },
    ]);
  });

  it('cuts a batch at maxChars without waiting', () => {
    const { parts, emitted } = batcher({ maxChars: 5 });
    parts.push('a');
    parts.push('bcdef');
    expect(emitted.map((part) => part.text)).toEqual(['a', 'bcdef']);
  });
});

describe('PartBatcher with trailing windows (wave 1)', () => {
  it('holds the first delta for a whole window', () => {
    const { parts, emitted } = batcher({ leadingEdge: false });
    streamWords(parts);
    expect(emitted).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.at).toBe(150);
  });
});

describe('flush and discard', () => {
  it('flush emits what is pending; discard drops it; neither leaves a timer behind', () => {
    const { parts, emitted } = batcher();
    parts.push('a');
    parts.push('b');
    parts.flush();
    parts.push('c');
    parts.push('d');
    parts.discard();
    vi.advanceTimersByTime(1_000);
    expect(emitted.map((part) => part.text)).toEqual(['a', 'b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

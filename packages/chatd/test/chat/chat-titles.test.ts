import { describe, expect, it } from 'vitest';
import {
  cleanTitle,
  isTitleRequest,
  MAX_GENERATED_TITLE_LENGTH,
  TITLE_INSTRUCTION,
} from '../../src/chat/chat-titles.js';

describe('cleanTitle', () => {
  it.each([
    ['"Trip to Paris."', 'Trip to Paris'],
    ['Title: Weekend plans', 'Weekend plans'],
    ['**Budget review**', 'Budget review'],
    ['« Voyage à Paris »', 'Voyage à Paris'],
    ['“Nested ‘quotes’”', 'Nested ‘quotes'],
    ['  Line one\nline two', 'Line one'],
    ['Tabs\tand   spaces', 'Tabs and spaces'],
    ['""', ''],
    ['', ''],
  ])('%j → %j', (raw, expected) => {
    expect(cleanTitle(raw)).toBe(expected);
  });

  it('cuts a long title at a word, within the limit', () => {
    const title = cleanTitle('word '.repeat(40));
    expect([...title].length).toBeLessThanOrEqual(MAX_GENERATED_TITLE_LENGTH);
    expect(title).toMatch(/^(word )*word…$/);
  });
});

describe('isTitleRequest', () => {
  it('knows a title request by its system prompt only', () => {
    expect(
      isTitleRequest([
        { role: 'system', content: TITLE_INSTRUCTION },
        { role: 'user', content: 'x' },
      ]),
    ).toBe(true);
    expect(isTitleRequest([{ role: 'user', content: TITLE_INSTRUCTION }])).toBe(false);
    expect(isTitleRequest([{ role: 'system', content: 'You help.' }])).toBe(false);
    expect(isTitleRequest([])).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { storableText } from '../../src/util/storable-text.js';

describe('storableText', () => {
  it('returns well-formed text without NUL as it is', () => {
    const text = 'plain, émoji 👋 and CJK 漢字';
    expect(storableText(text)).toBe(text);
  });

  it('removes NUL characters, which PostgreSQL text refuses', () => {
    expect(storableText('a\u0000b\u0000')).toBe('ab');
  });

  it('replaces lone surrogates (no UTF-8 form) and keeps surrogate pairs', () => {
    expect(storableText('x\ud800y\udc00z 👋')).toBe('x\ufffdy\ufffdz 👋');
    expect(storableText('\ud83d')).toBe('\ufffd');
  });
});

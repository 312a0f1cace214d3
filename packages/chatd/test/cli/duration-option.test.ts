import { describe, expect, it } from 'vitest';
import { durationMs, formatDuration } from '../../src/cli/options.js';

describe('duration flags', () => {
  it('reads a number with a unit into whole milliseconds', () => {
    expect(durationMs('250ms')).toBe(250);
    expect(durationMs('10s')).toBe(10_000);
    expect(durationMs('1.5m')).toBe(90_000);
    expect(durationMs('2h')).toBe(7_200_000);
    expect(durationMs(' 5s ')).toBe(5_000);
    expect(durationMs('576h')).toBe(24 * 24 * 3_600_000);
  });

  it.each(['10', 's', '-5s', '0s', '0.4ms', '5 s', '5sec', '1e3ms', '25d', '577h', ''])(
    'refuses %j with the expected form',
    (value) => {
      expect(() => durationMs(value)).toThrow('expected a duration such as 500ms, 10s or 5m');
    },
  );

  it('formats milliseconds in the largest whole unit, and reads back the same', () => {
    for (const [ms, text] of [
      [5_000, '5s'],
      [90_000, '90s'],
      [120_000, '2m'],
      [3_600_000, '1h'],
      [1_500, '1500ms'],
    ] as const) {
      expect(formatDuration(ms)).toBe(text);
      expect(durationMs(text)).toBe(ms);
    }
  });
});

import { describe, expect, inject, it } from 'vitest';
import {
  formatContextWindowBenchReport,
  runContextWindowBench,
} from '../../src/scaletest/context-window-bench.js';

describe('chatd scaletest context-window', () => {
  it('measures prompt tokens per turn with and without compaction', async () => {
    const report = await runContextWindowBench({
      turns: 8,
      contextLimit: 2_000,
      messageTokens: 200,
      responseTokens: 20,
      every: 1,
      postgresUrl: inject('adminDatabaseUrl'),
    });
    expect(report.whole).toHaveLength(8);
    expect(report.compacted).toHaveLength(8);
    // The whole history grows every turn; compaction keeps every prompt within the budget.
    for (let i = 1; i < 8; i++) {
      expect(report.whole[i]!.promptTokens).toBeGreaterThan(report.whole[i - 1]!.promptTokens);
    }
    expect(report.promptBudget).toBe(2_000 - 500);
    for (const turn of report.compacted) expect(turn.promptTokens).toBeLessThanOrEqual(1_500);
    expect(report.compacted.some((turn) => turn.summaryTokens > 0)).toBe(true);
    expect(report.whole.at(-1)!.promptTokens).toBeGreaterThan(report.compacted.at(-1)!.promptTokens);
    const printed = formatContextWindowBenchReport(report);
    expect(printed).toContain('| turn | prompt tokens, whole history | prompt tokens, compaction |');
    expect(printed.split('\n').filter((line) => /^\| \d+ \|/.test(line))).toHaveLength(8);
  });
});

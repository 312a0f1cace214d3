import { describe, expect, inject, it } from 'vitest';
import { formatFirstTokenBenchReport, runFirstTokenBench } from '../../src/scaletest/first-token-bench.js';

describe('chatd scaletest first-token', () => {
  it('measures the first part and the notifications of each batcher', async () => {
    const report = await runFirstTokenBench({
      turns: 3,
      latencyMs: 20,
      words: 8,
      wordDelayMs: 5,
      postgresUrl: inject('adminDatabaseUrl'),
    });
    expect(report.runs.map((run) => run.batcher)).toEqual(['trailing windows (before)', 'leading edge']);
    for (const run of report.runs) {
      expect(run.firstPartMs).toHaveLength(3);
      // The mock takes 20 ms to its first word: no part can come sooner, and none after the answer.
      for (const [turn, firstPart] of run.firstPartMs.entries()) {
        expect(firstPart).toBeGreaterThanOrEqual(20);
        expect(firstPart).toBeLessThanOrEqual(run.answerMs[turn]!);
      }
      expect(run.partsPerTurn).toBeGreaterThanOrEqual(1);
      // At least the running status and the final message of each turn.
      expect(run.notificationsPerTurn).toBeGreaterThanOrEqual(2);
    }
    const printed = formatFirstTokenBenchReport(report);
    expect(printed).toContain('| part batcher | first part p50 |');
    expect(printed).toMatch(/\| leading edge \| [\d.]+ \|/);
  });
});

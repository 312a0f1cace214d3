import { describe, expect, it } from 'vitest';
import {
  FAULT_RUN_DEFAULTS,
  formatFaultScaleTestReport,
  runFaultScaleTest,
} from '../../src/scaletest/fault-run.js';
import { LLM_FAULT_MODES } from '../../src/scaletest/llm-mock-faults.js';

describe('chatd scaletest run --faults (small)', () => {
  it('keeps every invariant through a replica kill, a PostgreSQL restart, LISTEN terminations and a failing LLM', async () => {
    const report = await runFaultScaleTest({
      ...FAULT_RUN_DEFAULTS,
      replicas: 2,
      chats: 20,
      turns: 3,
      // Embedded (no postgresUrl): a PostgreSQL of its own, which it may restart.
      llmLatencyMs: 20,
      llmChunkDelayMs: 20,
      llmResponseTokens: 8,
      // One in five provider requests fails: enough for every mode within ~70 requests.
      llmFaultRate: 0.2,
      faultRounds: 1,
      turnTimeoutMs: 60_000,
      deliverTimeoutMs: 60_000,
      recoveryTimeoutMs: 60_000,
      settleTimeoutMs: 60_000,
      onProgress: (line) => process.stdout.write(`scaletest: ${line}\n`),
    });
    process.stdout.write(`${formatFaultScaleTestReport(report)}\n`);
    expect(report.unsupportedServerFlags).toEqual([]);
    expect(report.embeddedPostgres).toBe(true);
    expect(report.rows.filter((row) => row.passed === false)).toEqual([]);
    expect(report.passed).toBe(true);
    // Every fault of the schedule was injected during the load and recovered.
    expect(report.faults.map((fault) => fault.planned.kind)).toEqual([
      'kill-replica',
      'restart-postgres',
      'terminate-listeners',
    ]);
    for (const fault of report.faults) {
      expect(fault.injectedAtMs, fault.planned.kind).toBeGreaterThan(0);
      expect(fault.recoveryMs, fault.planned.kind).toBeGreaterThan(0);
    }
    // Two replicas (and their LISTEN connections) were running when the listeners were terminated.
    expect(report.faults[2]!.detail).toMatch(/terminated [2-9]\d* LISTEN connections/);
    for (const mode of LLM_FAULT_MODES) expect(report.llmOutcomes[mode], mode).toBeGreaterThan(0);
    const { audit } = report;
    expect(audit.accepted).toBeGreaterThanOrEqual(60);
    expect(audit.lost).toBe(0);
    expect(audit.answeredTwice).toBe(0);
    expect(audit.unaccounted).toBe(0);
    expect(audit.chatsPendingOrRunning).toBe(0);
    expect(audit.answeredOnce + audit.endedInError).toBe(audit.accepted);
    // Most turns are answered; some fail visibly (HTTP 400, a cut stream), and the client saw them.
    expect(audit.answeredOnce).toBeGreaterThan(audit.accepted / 2);
    expect(report.load.errored).toBeGreaterThan(0);
    // An HTTP 500 is retried: some message cost more than one provider call, none more than the bound.
    expect(audit.providerCallsMax).toBeGreaterThan(1);
    expect(audit.providerCallsOverBound).toBe(0);
    expect(audit.unmatchedProviderCalls).toBe(0);
  }, 150_000);
});

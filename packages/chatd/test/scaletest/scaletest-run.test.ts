import { describe, expect, inject, it } from 'vitest';
import { CONFIG_CACHE_NAMES, CONFIG_CACHE_QUERIES } from '../../src/config/chat-config-cache.js';
import { configQueryBound, formatScaleTestReport, runScaleTest } from '../../src/scaletest/scaletest-run.js';

describe('chatd scaletest run (small)', () => {
  it('runs 50 chats x 3 turns of 5 users on 2 replica processes with zero failures and config queries within their bound', async () => {
    const report = await runScaleTest({
      replicas: 2,
      chats: 50,
      turns: 3,
      // Chats spread over five members, each with a prompt of their own.
      users: 5,
      configCache: true,
      // Passed to the replicas, which report them back: the bound below is computed from what they used.
      configCacheTtlMs: 4_000,
      userPromptCacheTtlMs: 2_500,
      // A scratch database on the suite's PostgreSQL.
      postgresUrl: inject('adminDatabaseUrl'),
      llmLatencyMs: 10,
      llmChunkDelayMs: 1,
      llmResponseTokens: 8,
      changeConfig: true,
      // Far above a healthy turn (under a second here), far below the test's timeout: a stuck turn fails
      // the run with its stage instead of hanging it.
      turnTimeoutMs: 90_000,
      onProgress: (line) => process.stdout.write(`scaletest: ${line}\n`),
    });
    process.stdout.write(`${formatScaleTestReport(report)}\n`);
    expect(report.load.failures).toEqual({ create: 0, stream: 0, send: 0, turn: 0 });
    expect(report.load.completedTurns).toBe(150);
    // The load generator measured its own event loop (a lagging generator makes the figures meaningless).
    expect(report.load.eventLoopDelayMs.max).toBeGreaterThan(0);
    expect(report.load.eventLoopDelayMs.max).toBeGreaterThanOrEqual(report.load.eventLoopDelayMs.p99);
    expect(report.cacheTtlSeconds).toEqual([
      { providers: 4, model_config: 4, default_model_config: 4, system_prompt: 4, user_prompt: 2.5 },
      { providers: 4, model_config: 4, default_model_config: 4, system_prompt: 4, user_prompt: 2.5 },
    ]);
    for (const cache of CONFIG_CACHE_NAMES) {
      const query = CONFIG_CACHE_QUERIES[cache];
      expect(report.queries[query] ?? 0, query).toBeLessThanOrEqual(configQueryBound(report, cache));
    }
    // Five users' prompts, each loaded at least once (by whichever replica ran that user's first turn).
    expect(report.queries.getUserChatPrompt).toBeGreaterThanOrEqual(5);
    // The turn path ran: every turn was completed by one statement.
    expect(report.queries.completeChatTurn).toBe(150);
    // Both config changes reached both replicas.
    expect(report.propagation.map((sample) => sample.change)).toEqual(['user prompt', 'model config']);
    for (const sample of report.propagation) {
      expect(sample.applyMs).toHaveLength(2);
      for (const ms of sample.applyMs) expect(ms).toBeLessThan(Number.POSITIVE_INFINITY);
    }
    expect(report.peakRssBytes.every((bytes) => bytes === undefined || bytes > 0)).toBe(true);
    // Every replica worked during the load, and so did this process; PostgreSQL is external here.
    expect(report.cpuSeconds.replicas).toHaveLength(2);
    for (const seconds of report.cpuSeconds.replicas) expect(seconds).toBeGreaterThan(0);
    expect(report.cpuSeconds.llmMock).toBeGreaterThan(0);
    expect(report.cpuSeconds.loadClient).toBeGreaterThan(0);
    expect(report.cpuSeconds.postgres).toBeUndefined();
  }, 240_000);
});

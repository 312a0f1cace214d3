import { Command, InvalidArgumentError, Option } from 'commander';
import { DROPPED_REJECTION_MESSAGE, handleDroppedDriverRejections } from '../db/dropped-driver-rejections.js';
import { formatChatLoadReport, runChatLoad } from '../scaletest/chat-load.js';
import { formatPropagationReport, measureConfigPropagation } from '../scaletest/config-propagation.js';
import {
  CONTEXT_WINDOW_BENCH_DEFAULTS,
  type ContextWindowBenchOptions,
  formatContextWindowBenchReport,
  runContextWindowBench,
} from '../scaletest/context-window-bench.js';
import {
  FAULT_RUN_DEFAULTS,
  type FaultScaleTestReport,
  formatFaultScaleTestReport,
  runFaultScaleTest,
} from '../scaletest/fault-run.js';
import {
  FIRST_TOKEN_BENCH_DEFAULTS,
  formatFirstTokenBenchReport,
  runFirstTokenBench,
} from '../scaletest/first-token-bench.js';
import { type LlmFaultMode, parseLlmFaultModes, startLlmMockServer } from '../scaletest/llm-mock-server.js';
import { formatScaleTestReport, runScaleTest, ScaleTestStoppedError } from '../scaletest/scaletest-run.js';
import { durationMs, nonNegativeInteger, positiveInteger } from './options.js';
import { onShutdownSignal } from './shutdown-signals.js';

/** `chatd scaletest …`: load generators and measurements. */
export function scaletestCommand(): Command {
  const scaletest = new Command('scaletest')
    .description('measure chatd: config propagation between replicas, and chat load against a mock LLM')
    // The measurements restart and cut PostgreSQL connections on purpose (see the module).
    .hook('preAction', () => {
      handleDroppedDriverRejections((error) =>
        process.stderr.write(`chatd scaletest: ${DROPPED_REJECTION_MESSAGE} (${error.message})\n`),
      );
    });

  scaletest
    .command('config-propagation')
    .description(
      'measure how fast a config write on one replica is applied on another (two instances on a scratch database)',
    )
    .addOption(
      new Option('--writes <n>', 'sequential config writes to measure')
        .env('CHATD_SCALETEST_WRITES')
        .default(200)
        .argParser(positiveInteger),
    )
    .addOption(scratchPostgresOption('the scratch database', 'a temporary embedded PostgreSQL'))
    .addOption(
      new Option(
        '--through-pgbouncer',
        "start a PgBouncer (the pgbouncer binary, transaction mode) in front of the scratch database: both instances' pools go through it with prepared statements off, their listeners connect directly (as --postgres-listen-url)",
      ).env('CHATD_SCALETEST_THROUGH_PGBOUNCER'),
    )
    .action(async (options: { writes: number; postgresUrl?: string; throughPgbouncer?: boolean }) => {
      const report = await measureConfigPropagation(options);
      process.stdout.write(`${formatPropagationReport(report)}\n`);
      if (report.freshReads !== report.writes) process.exitCode = 1;
    });

  scaletest
    .command('first-token')
    .description(
      'time from POST …/messages to the first message_part on the stream, idle, one in-process chatd, a mock LLM; the part batcher before (trailing windows) and now (leading edge), with notifications per turn',
    )
    .addOption(
      new Option('--turns <n>', 'measured turns per batcher')
        .env('CHATD_SCALETEST_FIRST_TOKEN_TURNS')
        .default(FIRST_TOKEN_BENCH_DEFAULTS.turns)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--latency <ms>', "the mock LLM's time to its first token")
        .env('CHATD_SCALETEST_LLM_LATENCY_MS')
        .default(FIRST_TOKEN_BENCH_DEFAULTS.latencyMs)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option('--words <n>', 'words of each answer')
        .env('CHATD_SCALETEST_FIRST_TOKEN_WORDS')
        .default(FIRST_TOKEN_BENCH_DEFAULTS.words)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--word-delay <ms>', "pause between the mock's words")
        .env('CHATD_SCALETEST_FIRST_TOKEN_WORD_DELAY_MS')
        .default(FIRST_TOKEN_BENCH_DEFAULTS.wordDelayMs)
        .argParser(nonNegativeInteger),
    )
    .addOption(scratchPostgresOption('the scratch database', 'a temporary embedded PostgreSQL'))
    .action(
      async (options: {
        turns: number;
        latency: number;
        words: number;
        wordDelay: number;
        postgresUrl?: string;
      }) => {
        const report = await runFirstTokenBench({
          turns: options.turns,
          latencyMs: options.latency,
          words: options.words,
          wordDelayMs: options.wordDelay,
          postgresUrl: options.postgresUrl,
        });
        process.stdout.write(`${formatFirstTokenBenchReport(report)}\n`);
      },
    );

  scaletest
    .command('context-window')
    .description(
      'prompt tokens per turn over one long chat, with and without compaction (one in-process chatd, a mock LLM, a scratch database)',
    )
    .addOption(
      new Option('--turns <n>', 'turns of the chat')
        .env('CHATD_SCALETEST_CONTEXT_TURNS')
        .default(CONTEXT_WINDOW_BENCH_DEFAULTS.turns)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--context-limit <n>', 'context_limit of the compacting model config')
        .env('CHATD_SCALETEST_CONTEXT_LIMIT')
        .default(CONTEXT_WINDOW_BENCH_DEFAULTS.contextLimit)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--message-tokens <n>', 'tokens of each user message')
        .env('CHATD_SCALETEST_MESSAGE_TOKENS')
        .default(CONTEXT_WINDOW_BENCH_DEFAULTS.messageTokens)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--response-tokens <n>', 'words (about a token each) of each answer of the mock LLM')
        .env('CHATD_SCALETEST_RESPONSE_TOKENS')
        .default(CONTEXT_WINDOW_BENCH_DEFAULTS.responseTokens)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--every <n>', 'print every n-th turn (and the first, the last and each that compacted)')
        .env('CHATD_SCALETEST_EVERY')
        .default(CONTEXT_WINDOW_BENCH_DEFAULTS.every)
        .argParser(positiveInteger),
    )
    .addOption(scratchPostgresOption('the scratch database', 'a temporary embedded PostgreSQL'))
    .action(async (options: ContextWindowBenchOptions) => {
      const report = await runContextWindowBench(options);
      process.stdout.write(`${formatContextWindowBenchReport(report)}\n`);
    });

  scaletest
    .command('llm-mock')
    .description(
      'run an OpenAI-compatible mock LLM (POST /v1/chat/completions, streaming or not) until interrupted',
    )
    .addOption(
      new Option('--host <host>', 'address to listen on').env('CHATD_LLM_MOCK_HOST').default('127.0.0.1'),
    )
    .addOption(
      new Option('--port <port>', 'port to listen on (0: any free port)')
        .env('CHATD_LLM_MOCK_PORT')
        .default(8080)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option('--latency-ms <ms>', 'time to first token')
        .env('CHATD_LLM_MOCK_LATENCY_MS')
        .default(0)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option('--chunk-delay-ms <ms>', 'pause between streamed chunks')
        .env('CHATD_LLM_MOCK_CHUNK_DELAY_MS')
        .default(0)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option(
        '--response-tokens <n>',
        'words (one chunk and one token each) in every answer; a title request gets at most 5',
      )
        .env('CHATD_LLM_MOCK_RESPONSE_TOKENS')
        .default(16)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--fault-rate <share>',
        'share of requests (0..1) that fail on their own, rotating through --fault-modes',
      )
        .env('CHATD_LLM_MOCK_FAULT_RATE')
        .default(0)
        .argParser(shareOption),
    )
    .addOption(
      new Option(
        '--fault-modes <modes>',
        'comma-separated: http-500 (500 before output), cut (stream cut mid-answer), http-400, silent (headers and a first chunk, then nothing); or all',
      )
        .env('CHATD_LLM_MOCK_FAULT_MODES')
        .default(parseLlmFaultModes('all'), 'all')
        .argParser(faultModesOption),
    )
    .addOption(
      new Option('--fault-seed <n>', 'seed of the fault sequence (the same seed fails the same requests)')
        .env('CHATD_LLM_MOCK_FAULT_SEED')
        .default(1)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option(
        '--record-last-user-messages',
        'count requests by their last user message (GET /_mock/stats reports them)',
      ).env('CHATD_LLM_MOCK_RECORD_LAST_USER_MESSAGES'),
    )
    .action(
      async (options: {
        host: string;
        port: number;
        latencyMs: number;
        chunkDelayMs: number;
        responseTokens: number;
        faultRate: number;
        faultModes: LlmFaultMode[];
        faultSeed: number;
        recordLastUserMessages?: boolean;
      }) => {
        const server = await startLlmMockServer({
          ...options,
          recordLastUserMessages: options.recordLastUserMessages === true,
        });
        process.stdout.write(`llm-mock listening at ${server.url}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
      },
    );

  scaletest
    .command('chat')
    .description('run concurrent chats against running chatd servers and report latencies and failures')
    .addOption(
      new Option('--url <urls>', 'chatd base URL; several comma-separated to spread chats over replicas')
        .env('CHATD_SCALETEST_URL')
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--token <tokens>',
        'API token of the user that chats; several comma-separated to spread chats over their users',
      )
        .env('CHATD_SCALETEST_TOKEN')
        .makeOptionMandatory(),
    )
    .addOption(chatsOption(10))
    .addOption(turnsOption())
    .addOption(
      new Option('--model-config-id <id>', 'model config the chats use (default: the default one)').env(
        'CHATD_SCALETEST_MODEL_CONFIG_ID',
      ),
    )
    .addOption(outputOption())
    .action(
      async (options: {
        url: string;
        token: string;
        chats: number;
        turns: number;
        modelConfigId?: string;
        output: string;
      }) => {
        const isTty = process.stderr.isTTY === true;
        const report = await runChatLoad({
          urls: options.url.split(',').map((url) => url.trim()),
          tokens: options.token.split(',').map((token) => token.trim()),
          chats: options.chats,
          turns: options.turns,
          modelConfigId: options.modelConfigId,
          onProgress: ({ completedTurns, totalTurns, failedChats }) => {
            if (isTty)
              process.stderr.write(`\r${completedTurns}/${totalTurns} turns, ${failedChats} failed chats `);
          },
        });
        if (isTty) process.stderr.write('\n');
        process.stdout.write(
          options.output === 'json'
            ? `${JSON.stringify(report, null, 2)}\n`
            : `${formatChatLoadReport(report)}\n`,
        );
        if (Object.values(report.failures).some((count) => count > 0)) process.exitCode = 1;
      },
    );

  scaletest
    .command('run')
    .description(
      'the whole measurement on this machine: PostgreSQL, a mock LLM, N chatd replicas, a chat load, and the database calls per query',
    )
    .addOption(
      new Option('--replicas <n>', 'chatd servers to run')
        .env('CHATD_SCALETEST_REPLICAS')
        .default(2)
        .argParser(positiveInteger),
    )
    .addOption(chatsOption(100))
    .addOption(turnsOption())
    .addOption(
      new Option(
        '--users <n>',
        'users the chats belong to (chat i is user i mod n), each with a personal prompt; 1: one admin for every chat',
      )
        .env('CHATD_SCALETEST_USERS')
        .default(1)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option('--compare', 'run again with the config cache off and print both, with the reduction').env(
        'CHATD_SCALETEST_COMPARE',
      ),
    )
    .addOption(
      new Option(
        '--config-cache-ttl <duration>',
        "the replicas' --config-cache-ttl (providers, model configs, system prompt)",
      )
        .env('CHATD_SCALETEST_CONFIG_CACHE_TTL')
        .default(undefined, 'the server default')
        .argParser(durationMs),
    )
    .addOption(
      new Option('--user-prompt-cache-ttl <duration>', "the replicas' --user-prompt-cache-ttl")
        .env('CHATD_SCALETEST_USER_PROMPT_CACHE_TTL')
        .default(undefined, 'the server default')
        .argParser(durationMs),
    )
    .addOption(scratchPostgresOption('scratch databases', 'embedded'))
    .addOption(
      new Option(
        '--through-pgbouncer',
        "start a PgBouncer (the pgbouncer binary, transaction mode) in front of the scratch database: the replicas' pools go through it with prepared statements off, their listeners connect directly (--postgres-listen-url); not with --faults",
      ).env('CHATD_SCALETEST_THROUGH_PGBOUNCER'),
    )
    .addOption(
      new Option('--llm-latency-ms <ms>', 'mock LLM time to first token')
        .env('CHATD_SCALETEST_LLM_LATENCY_MS')
        .default(50)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option('--llm-chunk-delay-ms <ms>', 'mock LLM pause between chunks')
        .env('CHATD_SCALETEST_LLM_CHUNK_DELAY_MS')
        .default(5)
        .argParser(nonNegativeInteger),
    )
    .addOption(
      new Option('--llm-response-tokens <n>', 'mock LLM words per answer (a title request gets at most 5)')
        .env('CHATD_SCALETEST_LLM_RESPONSE_TOKENS')
        .default(16)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--faults',
        'run the chat load under faults and audit it: SIGKILL of a replica (and a fresh replacement), a restart of the embedded PostgreSQL (skipped, and said so, with --postgres-url), termination of every LISTEN connection, and a mock LLM that fails a share of requests (--llm-fault-rate); replicas run with --turn-idle-timeout 5s --turn-takeover-after 6s --turn-heartbeat-interval 1s --shutdown-grace 5s; prints the schedule, each fault as injected, and an audit table (lost, answered twice, chats left pending/running, provider calls per message, recovery); exits 1 when an invariant fails; not with --compare',
      ).env('CHATD_SCALETEST_FAULTS'),
    )
    .addOption(
      new Option(
        '--fault-rounds <n>',
        'with --faults: rounds of the three injected faults, spread evenly over the turns (each waits for the one before to recover, 30 s at most)',
      )
        .env('CHATD_SCALETEST_FAULT_ROUNDS')
        .default(FAULT_RUN_DEFAULTS.faultRounds)
        .argParser(positiveInteger),
    )
    .addOption(
      new Option(
        '--llm-fault-rate <share>',
        'with --faults: share of provider requests (0..1) the mock LLM fails, in turn HTTP 500, a cut stream, HTTP 400, a silent stream',
      )
        .env('CHATD_SCALETEST_LLM_FAULT_RATE')
        .default(FAULT_RUN_DEFAULTS.llmFaultRate)
        .argParser(shareOption),
    )
    .addOption(
      new Option('--llm-fault-seed <n>', 'with --faults: seed of the mock LLM fault sequence')
        .env('CHATD_SCALETEST_LLM_FAULT_SEED')
        .default(FAULT_RUN_DEFAULTS.llmFaultSeed)
        .argParser(nonNegativeInteger),
    )
    .addOption(outputOption())
    .action(
      async (options: {
        faults?: boolean;
        faultRounds: number;
        llmFaultRate: number;
        llmFaultSeed: number;
        replicas: number;
        chats: number;
        turns: number;
        users: number;
        compare?: boolean;
        configCacheTtl?: number;
        userPromptCacheTtl?: number;
        postgresUrl?: string;
        throughPgbouncer?: boolean;
        llmLatencyMs: number;
        llmChunkDelayMs: number;
        llmResponseTokens: number;
        output: string;
      }) => {
        if (options.faults) {
          if (options.compare) throw new InvalidArgumentError('--faults and --compare do not go together');
          if (options.throughPgbouncer) {
            throw new InvalidArgumentError('--faults and --through-pgbouncer do not go together');
          }
          await runFaults(options);
          return;
        }
        const common = {
          replicas: options.replicas,
          chats: options.chats,
          turns: options.turns,
          users: options.users,
          postgresUrl: options.postgresUrl,
          throughPgbouncer: options.throughPgbouncer,
          configCacheTtlMs: options.configCacheTtl,
          userPromptCacheTtlMs: options.userPromptCacheTtl,
          llmLatencyMs: options.llmLatencyMs,
          llmChunkDelayMs: options.llmChunkDelayMs,
          llmResponseTokens: options.llmResponseTokens,
          changeConfig: true,
          onProgress: (line: string) => process.stderr.write(`chatd scaletest: ${line}\n`),
        };
        // A first SIGINT or SIGTERM stops the run cleanly: the replicas, the mock LLM and the embedded
        // PostgreSQL are stopped and their scratch files removed. A second one exits at once.
        const stop = new AbortController();
        const signals = onShutdownSignal({ command: 'chatd scaletest', skipped: 'cleaning up' }, (signal) => {
          process.stderr.write(
            `chatd scaletest: ${signal}: stopping the replicas, the mock LLM and PostgreSQL (again to exit at once)\n`,
          );
          stop.abort();
        });
        let on: Awaited<ReturnType<typeof runScaleTest>>;
        let off: Awaited<ReturnType<typeof runScaleTest>> | undefined;
        try {
          on = await runScaleTest({ ...common, configCache: true, signal: stop.signal });
          if (options.compare)
            off = await runScaleTest({ ...common, configCache: false, signal: stop.signal });
        } catch (error) {
          if (!(error instanceof ScaleTestStoppedError)) throw error;
          process.stderr.write('chatd scaletest: stopped; everything it started is gone\n');
          // The chat load may still hold timers; nothing is left to wait for.
          process.exit(signals.exitCode);
        } finally {
          signals.remove();
        }
        process.stdout.write(
          options.output === 'json'
            ? `${JSON.stringify({ cacheOn: on, cacheOff: off }, null, 2)}\n`
            : `${formatScaleTestReport(on, off)}\n`,
        );
        const failed = [on, off].some(
          (report) => report && Object.values(report.load.failures).some((n) => n > 0),
        );
        if (failed) process.exitCode = 1;
      },
    );

  return scaletest;
}

/** `chatd scaletest run --faults`: the load under faults, its schedule and its audit. */
async function runFaults(options: {
  faultRounds: number;
  llmFaultRate: number;
  llmFaultSeed: number;
  replicas: number;
  chats: number;
  turns: number;
  users: number;
  postgresUrl?: string;
  llmLatencyMs: number;
  llmChunkDelayMs: number;
  llmResponseTokens: number;
  output: string;
}): Promise<void> {
  const stop = new AbortController();
  const signals = onShutdownSignal({ command: 'chatd scaletest', skipped: 'cleaning up' }, (signal) => {
    process.stderr.write(
      `chatd scaletest: ${signal}: stopping the replicas, the mock LLM and PostgreSQL (again to exit at once)\n`,
    );
    stop.abort();
  });
  let report: FaultScaleTestReport;
  try {
    report = await runFaultScaleTest({
      ...FAULT_RUN_DEFAULTS,
      replicas: options.replicas,
      chats: options.chats,
      turns: options.turns,
      users: options.users,
      postgresUrl: options.postgresUrl,
      llmLatencyMs: options.llmLatencyMs,
      llmChunkDelayMs: options.llmChunkDelayMs,
      llmResponseTokens: options.llmResponseTokens,
      llmFaultRate: options.llmFaultRate,
      llmFaultSeed: options.llmFaultSeed,
      faultRounds: options.faultRounds,
      // The last turns get the engine's own bound (takeovers plus the idle timeout) and a margin.
      settleTimeoutMs:
        (FAULT_RUN_DEFAULTS.takeoverBound + 1) * FAULT_RUN_DEFAULTS.turnTakeoverAfterMs +
        FAULT_RUN_DEFAULTS.turnIdleTimeoutMs +
        30_000,
      signal: stop.signal,
      onProgress: (line: string) => process.stderr.write(`chatd scaletest: ${line}\n`),
    });
  } catch (error) {
    if (!(error instanceof ScaleTestStoppedError)) throw error;
    process.stderr.write('chatd scaletest: stopped; everything it started is gone\n');
    process.exit(signals.exitCode);
  } finally {
    signals.remove();
  }
  process.stdout.write(
    options.output === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : `${formatFaultScaleTestReport(report)}\n`,
  );
  if (!report.passed) process.exitCode = 1;
}

function chatsOption(defaultChats: number): Option {
  return new Option('--chats <n>', 'chats started at once')
    .env('CHATD_SCALETEST_CHATS')
    .default(defaultChats)
    .argParser(positiveInteger);
}

function turnsOption(): Option {
  return new Option('--turns <n>', 'turns per chat')
    .env('CHATD_SCALETEST_TURNS')
    .default(3)
    .argParser(positiveInteger);
}

function outputOption(): Option {
  return new Option('--output <format>', 'summary format')
    .env('CHATD_SCALETEST_OUTPUT')
    .choices(['table', 'json'])
    .default('table');
}

function shareOption(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed <= 1)) {
    throw new InvalidArgumentError('expected a number within 0..1');
  }
  return parsed;
}

function faultModesOption(value: string): LlmFaultMode[] {
  try {
    return parseLlmFaultModes(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `--postgres-url` of a scale test: where its scratch databases go. */
function scratchPostgresOption(what: string, fallback: string): Option {
  return new Option(
    '--postgres-url <url>',
    `PostgreSQL server to create ${what} on (default: ${fallback})`,
  ).env('CHATD_POSTGRES_URL');
}

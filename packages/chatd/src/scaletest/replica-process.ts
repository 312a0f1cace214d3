import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type ChatdChild, startChatdChild } from './child-process.js';
import type { Cleanups } from './cleanups.js';

/** Options of {@link startReplica}. */
export interface ReplicaOptions {
  /** Names its cache directory (`chatd-replica-<index>-…`). */
  readonly index: number;
  /** The database every replica shares (passed through the environment, never the command line). */
  readonly databaseUrl: string;
  /**
   * `--postgres-listen-url` (through the environment too) when `databaseUrl` goes through a
   * transaction-mode pooler; the replica then also runs with `--postgres-prepared-statements off`.
   */
  readonly listenUrl?: string | undefined;
  /** The secrets key every replica shares, hex. */
  readonly secretsKey: string;
  readonly configCache: boolean;
  /** `--config-cache-ttl` in ms; the server default when undefined. */
  readonly configCacheTtlMs?: number | undefined;
  /** `--user-prompt-cache-ttl` in ms; the server default when undefined. */
  readonly userPromptCacheTtlMs?: number | undefined;
  /** More `chatd server` arguments, appended. */
  readonly extraArgs?: readonly string[];
}

/** A `chatd server` child of the scale test. */
export interface ReplicaProcess {
  readonly index: number;
  readonly url: string;
  readonly metricsUrl: string;
  readonly process: ChatdChild;
  /** performance.now() when its start began. */
  readonly startedAt: number;
}

/**
 * Starts one `chatd server` replica on free ports with a scratch cache directory; `cleanups` stops it
 * and removes the directory.
 */
export async function startReplica(options: ReplicaOptions, cleanups: Cleanups): Promise<ReplicaProcess> {
  const cacheDir = await mkdtemp(path.join(tmpdir(), `chatd-replica-${options.index}-`));
  cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
  const startedAt = performance.now();
  const started = await startChatdChild(
    [
      'server',
      '--http-address',
      '127.0.0.1:0',
      '--prometheus-address',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      '--config-cache',
      options.configCache ? 'on' : 'off',
      ...(options.configCacheTtlMs === undefined
        ? []
        : ['--config-cache-ttl', `${options.configCacheTtlMs}ms`]),
      ...(options.userPromptCacheTtlMs === undefined
        ? []
        : ['--user-prompt-cache-ttl', `${options.userPromptCacheTtlMs}ms`]),
      '--database-pool-size',
      '30',
      // The load generator is a few synthetic users driving thousands of chats: per-user limits, which
      // are made for people, would measure the limiter instead of chatd.
      '--max-new-chats-per-minute',
      '0',
      '--max-messages-per-minute',
      '0',
      '--max-streams-per-user',
      '1000000',
      '--cache-dir',
      cacheDir,
      ...(options.listenUrl === undefined ? [] : ['--postgres-prepared-statements', 'off']),
      ...(options.extraArgs ?? []),
    ],
    [/chatd is ready at (\S+)/, /metrics at (\S+)/],
    // The database URL and the key go through the environment, not the command line (ps shows it).
    {
      env: {
        CHATD_POSTGRES_URL: options.databaseUrl,
        CHATD_SECRETS_KEY: options.secretsKey,
        ...(options.listenUrl === undefined ? {} : { CHATD_POSTGRES_LISTEN_URL: options.listenUrl }),
      },
    },
  );
  cleanups.push(() => started.process.stop());
  return {
    index: options.index,
    url: started.matches[0]![1]!,
    metricsUrl: started.matches[1]![1]!,
    process: started.process,
    startedAt,
  };
}

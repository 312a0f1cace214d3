import { homedir } from 'node:os';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { findBlockingDirectory, resolvePostgresRunAs } from '../db/embedded/system-user.js';
import { firstHostUrl } from '../db/postgres-url.js';
import { LOG_LEVELS, type LogLevel } from '../logging/logger.js';

/** The default `--cache-dir`: `$XDG_CACHE_HOME/chatd`, else `~/.cache/chatd`. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(base, 'chatd');
}

/** Options every command that touches the database takes. */
export interface DatabaseCliOptions {
  postgresUrl?: string;
  /** `--postgres-prepared-statements`: `off` behind a transaction-mode pooler that does not track them. */
  postgresPreparedStatements: 'on' | 'off';
  cacheDir: string;
  logLevel: LogLevel;
}

/** `--postgres-url`, `--cache-dir`, `--log-level`, each with its `CHATD_*` variable. */
export function databaseOptions(): Option[] {
  return [
    new Option(
      '--postgres-url <url>',
      'PostgreSQL (13 or newer) to use, e.g. postgres://user:pass@host:5432/chatd; without it chatd runs an embedded PostgreSQL under --cache-dir',
    )
      .env('CHATD_POSTGRES_URL')
      .argParser(parsePostgresUrl),
    new Option(
      '--postgres-prepared-statements <mode>',
      'named prepared statements on the database pool; off when --postgres-url goes through a transaction-mode pooler that does not track them (PgBouncer before 1.21, or max_prepared_statements = 0). Off also turns off pipelining: at most one query or transaction per pool connection at a time, the others wait in chatd',
    )
      .env('CHATD_POSTGRES_PREPARED_STATEMENTS')
      .choices(['on', 'off'])
      .default('on'),
    new Option(
      '--cache-dir <dir>',
      `directory for the embedded PostgreSQL data and generated secrets (as root, when the postgres user cannot reach the default: ${ROOT_FALLBACK_CACHE_DIR})`,
    )
      .env('CHATD_CACHE_DIR')
      .default(defaultCacheDir()),
    new Option('--log-level <level>', 'log verbosity')
      .env('CHATD_LOG_LEVEL')
      .choices(LOG_LEVELS)
      .default('info'),
  ];
}

/** Parses a `postgres://` or `postgresql://` URL flag. */
export function parsePostgresUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(firstHostUrl(value)); // a multi-host URL (h1:5432,h2:5432) is valid too
  } catch {
    throw new InvalidArgumentError('expected a URL such as postgres://user:pass@host:5432/chatd');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InvalidArgumentError('expected a postgres:// or postgresql:// URL');
  }
  return value;
}

/** Where chatd keeps its data when it runs as root and the postgres user cannot reach the home cache. */
export const ROOT_FALLBACK_CACHE_DIR = '/var/lib/chatd';

/**
 * The cache directory to use. As root, embedded PostgreSQL runs as the `postgres` user, which usually
 * cannot enter /root (mode 0700). When the cache dir is the default one (not chosen by flag or
 * variable) and that user cannot reach it, chatd uses /var/lib/chatd instead and says so; a directory
 * the operator chose explicitly is never replaced (start-up then fails with instructions).
 */
export async function resolveCacheDir(
  cacheDir: string,
  source: string | undefined,
  notify: (message: string) => void,
): Promise<string> {
  if (source !== 'default') return cacheDir;
  const runAs = await resolvePostgresRunAs().catch(() => undefined);
  if (!runAs) return cacheDir;
  const blocking = await findBlockingDirectory(path.join(cacheDir, 'postgres'), runAs);
  if (blocking === undefined) return cacheDir;
  notify(
    `running as root, and the '${runAs.name}' user that runs embedded PostgreSQL cannot enter ${blocking}, ` +
      `so chatd keeps its data in ${ROOT_FALLBACK_CACHE_DIR} (choose another place with --cache-dir).`,
  );
  return ROOT_FALLBACK_CACHE_DIR;
}

/** The database options of a parsed command, with the cache directory resolved (see {@link resolveCacheDir}). */
export async function resolveDatabaseOptions(command: Command): Promise<DatabaseCliOptions> {
  const options = command.opts<DatabaseCliOptions>();
  const cacheDir = options.postgresUrl
    ? options.cacheDir
    : await resolveCacheDir(options.cacheDir, command.getOptionValueSource('cacheDir'), (message) =>
        process.stderr.write(`chatd: ${message}\n`),
      );
  return { ...options, cacheDir };
}

/** Parses a positive integer flag. */
export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
/** 24 days: within the range of Node's timers (2^31 - 1 ms). */
const MAX_DURATION_MS = 24 * 24 * 3_600_000;
/** Ten years: for lifetimes stored in the database, which no timer waits for. */
const MAX_LONG_DURATION_MS = 3650 * 86_400_000;

function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  return match ? Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2]!]!) : Number.NaN;
}

/** Parses a duration flag such as `500ms`, `10s`, `1.5m` or `1h` into whole milliseconds (at least 1). */
export function durationMs(value: string): number {
  const ms = parseDuration(value);
  if (!(ms >= 1 && ms <= MAX_DURATION_MS)) {
    throw new InvalidArgumentError('expected a duration such as 500ms, 10s or 5m (from 1ms to 24 days)');
  }
  return ms;
}

/** Parses a long duration flag (`12h`, `7d`, `30d`) into whole milliseconds: from 1 minute to 10 years. */
export function longDurationMs(value: string): number {
  const ms = parseDuration(value);
  if (!(ms >= 60_000 && ms <= MAX_LONG_DURATION_MS)) {
    throw new InvalidArgumentError('expected a duration such as 12h, 7d or 30d (from 1 minute to 10 years)');
  }
  return ms;
}

/** Parses a non-negative integer flag (0 usually means "off"). */
export function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected an integer >= 0');
  return parsed;
}

/** Formats whole milliseconds the way {@link durationMs} reads them (for defaults shown in --help). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

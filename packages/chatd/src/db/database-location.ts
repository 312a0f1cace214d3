import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { connectDatabase, createSql } from './connection.js';
import { EmbeddedPostgres, embeddedConnectionUrl } from './embedded/embedded-postgres.js';

/** The database chatd uses on an embedded cluster. */
export const EMBEDDED_DATABASE_NAME = 'chatd';

/** Where chatd's database is, and how to let go of it. */
export interface DatabaseLocation {
  /** Connection URL (contains a password: never log it; see `describeUrl`). */
  readonly url: string;
  /** `embedded` when chatd started (or attached to) its own cluster. */
  readonly kind: 'external' | 'embedded';
  /** Stops the embedded cluster when this process started it; otherwise does nothing. */
  release(): Promise<void>;
}

/**
 * `--postgres-url` when given; otherwise the embedded cluster under `cacheDir`. When another chatd
 * process (a running server) already runs that cluster, this attaches to it instead of failing on its
 * lock, so `chatd users create` works next to a running server.
 */
export async function locateDatabase(options: {
  postgresUrl?: string | undefined;
  cacheDir: string;
  logger: Logger;
}): Promise<DatabaseLocation> {
  if (options.postgresUrl) {
    return { url: options.postgresUrl, kind: 'external', release: async () => {} };
  }
  const running = await findRunningEmbeddedCluster(options.cacheDir);
  if (running) {
    options.logger.debug({ port: running.port }, 'attaching to the embedded PostgreSQL another chatd runs');
    await ensureDatabase(running.url('postgres'));
    return { url: running.url(EMBEDDED_DATABASE_NAME), kind: 'embedded', release: async () => {} };
  }
  const pgLogger = options.logger.child({ component: 'embedded-postgres' });
  const cluster = await EmbeddedPostgres.start({
    baseDir: options.cacheDir,
    onLog: (line) => pgLogger.debug(line),
  });
  try {
    await ensureDatabase(cluster.connectionUrl('postgres'));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    url: cluster.connectionUrl(EMBEDDED_DATABASE_NAME),
    kind: 'embedded',
    release: () => cluster.stop(),
  };
}

/** Creates chatd's database on the embedded cluster at first start. */
async function ensureDatabase(adminUrl: string): Promise<void> {
  const admin = await connectDatabase(adminUrl, { maxConnections: 1 });
  try {
    const [row] = await admin<[{ exists: boolean }]>`
      SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${EMBEDDED_DATABASE_NAME}) AS exists`;
    if (!row?.exists) await admin.unsafe(`CREATE DATABASE ${EMBEDDED_DATABASE_NAME}`);
  } finally {
    await admin.end();
  }
}

/**
 * Reads `postmaster.pid` (line 1: pid, line 4: port) and the stored password; returns a URL builder
 * when that postmaster is alive.
 */
async function findRunningEmbeddedCluster(
  cacheDir: string,
): Promise<{ port: number; url: (database: string) => string } | undefined> {
  let lines: string[];
  let password: string;
  try {
    lines = (await readFile(path.join(cacheDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n');
    password = (await readFile(path.join(cacheDir, 'postgres-password'), 'utf8')).trim();
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !isAlive(pid)) return undefined;
  const url = (database: string) => embeddedConnectionUrl(password, port, database);
  const probe = createSql(url('postgres'), {
    maxConnections: 1,
    connectTimeoutSeconds: 2,
  });
  try {
    await probe`SELECT 1`;
  } catch {
    return undefined; // Starting up or shutting down: let the caller start its own and report the lock.
  } finally {
    await probe.end({ timeout: 1 });
  }
  return { port, url };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

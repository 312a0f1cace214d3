import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../db/connection.js';
import { EmbeddedPostgres } from '../db/embedded/embedded-postgres.js';
import { migrate } from '../db/migrate.js';
import { withDatabaseName } from '../db/postgres-url.js';

/** A throwaway, migrated database for a benchmark or scale test. */
export interface ScratchDatabase {
  /** Connection URL of the scratch database (contains a password: never print it). */
  readonly url: string;
  /** The embedded PostgreSQL's postmaster process id; undefined on a server given by `postgresUrl`. */
  readonly serverPid: number | undefined;
  /**
   * Restarts the embedded PostgreSQL (a fast shutdown, then a start on the same data directory and port;
   * every connection is dropped); undefined on a server given by `postgresUrl`, which is not ours to
   * restart.
   */
  readonly restart: (() => Promise<void>) | undefined;
  /** Drops the database (and stops the embedded PostgreSQL, removing its files, when one was started). */
  close(): Promise<void>;
}

/**
 * Creates a fresh database: on `postgresUrl`'s server when given (a new database next to the one named
 * there, so a real deployment's data is never touched; needs CREATEDB), otherwise on an embedded
 * PostgreSQL in a temporary directory tuned for throughput (fsync off: the data is thrown away).
 */
export async function openScratchDatabase(options: {
  postgresUrl?: string | undefined;
  maxConnections?: number;
}): Promise<ScratchDatabase> {
  let embedded: EmbeddedPostgres | undefined;
  let scratchDir: string | undefined;
  let serverUrl = options.postgresUrl;
  const name = `chatd_scaletest_${randomBytes(5).toString('hex')}`;
  let created = false;
  /** A restart in flight: closing waits for it, so that the server it starts is stopped too. */
  let restarting: Promise<void> | undefined;
  const close = async () => {
    await restarting?.catch(() => {});
    try {
      if (created && serverUrl) {
        const dropper = await connectDatabase(serverUrl, { maxConnections: 1 });
        try {
          await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await dropper.end();
        }
      }
    } finally {
      await embedded?.stop();
      if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
    }
  };
  try {
    const settings = {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: String(options.maxConnections ?? 300),
      shared_buffers: '256MB',
    };
    if (!serverUrl) {
      scratchDir = await mkdtemp(path.join(tmpdir(), 'chatd-scaletest-'));
      embedded = await EmbeddedPostgres.start({ baseDir: scratchDir, settings });
      serverUrl = embedded.connectionUrl('postgres');
    }
    const admin = await connectDatabase(serverUrl, { maxConnections: 1 });
    try {
      await admin.unsafe(`CREATE DATABASE ${name}`);
      created = true;
    } finally {
      await admin.end();
    }
    const url = withDatabaseName(serverUrl, name);
    const sql = await connectDatabase(url, { maxConnections: 1 });
    try {
      await migrate(sql);
    } finally {
      await sql.end();
    }
    const baseDir = scratchDir;
    const restart =
      embedded && baseDir
        ? () => {
            restarting = (async () => {
              const { port } = embedded!;
              await embedded!.stop();
              // The same port, so that every client's URL stays valid; the cluster keeps its data.
              embedded = await EmbeddedPostgres.start({ baseDir, port, settings });
            })();
            return restarting;
          }
        : undefined;
    return {
      url,
      get serverPid() {
        return embedded?.pid;
      },
      restart,
      close,
    };
  } catch (error) {
    // Half made: take down what was made (the database, the embedded server, its files).
    await close().catch(() => {});
    throw error;
  }
}

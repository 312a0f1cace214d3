import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { connectDatabase, createSql } from '../../src/db/connection.js';
import { EmbeddedPostgres } from '../../src/db/embedded/embedded-postgres.js';
import { POSTGRES_SYSTEM_USER } from '../../src/db/embedded/system-user.js';
import { migrate } from '../../src/db/migrate.js';

export const TEMPLATE_DATABASE = 'chatd_test_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the test cluster (database `postgres`), for creating per-file databases. */
    adminDatabaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: embedded in a scratch directory (or `CHATD_TEST_DATABASE_URL`), with
 * a template database built by the real migrations. Each test file clones the template.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedPostgres | undefined;
  let scratchDir: string | undefined;
  let adminUrl = process.env.CHATD_TEST_DATABASE_URL;
  if (!adminUrl) {
    await ensurePostgresSystemUser();
    // Under os.tmpdir() so that, when the suite runs as root, the postgres system user can reach it.
    scratchDir = await mkdtemp(path.join(tmpdir(), 'chatd-test-'));
    embedded = await EmbeddedPostgres.start({
      baseDir: scratchDir,
      // Test files run in parallel, several with whole replicas (pools of 20-30): room for all of them.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '1000' },
    });
    adminUrl = embedded.connectionUrl('postgres');
  }
  const admin = await connectDatabase(adminUrl, { maxConnections: 1 });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  const template = createSql(withDatabase(adminUrl, TEMPLATE_DATABASE), { maxConnections: 1 });
  await migrate(template);
  await template.end();
  await admin.end();
  project.provide('adminDatabaseUrl', adminUrl);

  return async () => {
    await embedded?.stop();
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  };
}

/**
 * As root, embedded PostgreSQL runs as the `postgres` system user (chatd never creates accounts on its own).
 * A fresh CI machine may not have one: the test run creates it, as an operator would.
 */
async function ensurePostgresSystemUser(): Promise<void> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  const run = promisify(execFile);
  try {
    await run('id', ['-u', POSTGRES_SYSTEM_USER]);
  } catch {
    await run('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      POSTGRES_SYSTEM_USER,
    ]);
  }
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

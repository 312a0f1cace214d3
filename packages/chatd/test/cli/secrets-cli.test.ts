import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { type CliProcess, startCli } from '../support/cli-process.js';
import { scratchDir } from '../support/scratch-dir.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop();
});

/** A fresh migrated database for one test (the secrets key check is per database). */
async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

/** `chatd server` on `url`, quiet, on a free port; stopped (SIGTERM) when the test finishes. */
function startServer(url: string, args: string[] = [], env: Record<string, string> = {}): CliProcess {
  const cli = startCli(
    ['server', '--postgres-url', url, '--http-address', '127.0.0.1:0', '--log-level', 'warn', ...args],
    env,
  );
  onTestFinished(async () => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
  return cli;
}

/** Whether the server became ready or exited first (with its code). */
async function outcome(cli: CliProcess): Promise<'ready' | { code: number }> {
  return Promise.race([
    cli.waitForStdout(/chatd is ready at/).then(
      () => 'ready' as const,
      // It exited first: `exited` answers.
      () => new Promise<never>(() => {}),
    ),
    cli.exited.then((code) => ({ code })),
  ]);
}

describe('chatd server secrets on an external database', () => {
  it('starts on a fresh machine: the missing --cache-dir is created, private (0700)', async () => {
    const database = await freshDatabase();
    const cacheDir = path.join(await scratchDir('chatd-fresh-'), 'home', '.cache', 'chatd');
    const server = startServer(database.url, ['--cache-dir', cacheDir]);
    expect(await outcome(server), server.stderr()).toBe('ready');
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.dirname(cacheDir))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(cacheDir, 'secrets-key'))).mode & 0o777).toBe(0o600);
  });
});

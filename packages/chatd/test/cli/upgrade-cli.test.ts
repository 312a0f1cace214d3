import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli-process.js';
import { scratchDir } from '../support/scratch-dir.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe('upgrade flags', () => {
  it('rejects a --migrate mode and a --notify-queue-threshold out of range before starting anything', async () => {
    const mode = await runCli(['server', '--migrate', 'sometimes']);
    expect(mode.code).not.toBe(0);
    expect(mode.stderr).toContain("option '--migrate <mode>' argument 'sometimes' is invalid");
    const threshold = await runCli(['server'], { CHATD_NOTIFY_QUEUE_THRESHOLD: '0' });
    expect(threshold.code).not.toBe(0);
    expect(threshold.stderr).toContain('expected a percentage above 0 and at most 100');
  });
});

describe('chatd server --migrate off and chatd migrate', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase({ empty: true });
  });
  afterAll(() => database?.drop());

  it('refuses to start on a schema older than the build, and starts once chatd migrate ran', async () => {
    const cacheDir = await scratchDir('chatd-upgrade-cli-');
    const common = ['--postgres-url', database.url, '--cache-dir', cacheDir, '--log-level', 'warn'];
    const refused = await runCli(['server', '--migrate', 'off', '--http-address', '127.0.0.1:0', ...common]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^chatd: the database schema lacks migrations 1, 2, .* that this chatd needs, and --migrate is off: run chatd migrate of this release once/m,
    );

    const migrated = await runCli(['migrate', '--migration-lock-timeout', '2s', ...common]);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/^applied migrations 1, 2, .*; schema version \d+\n$/);
    const again = await runCli(['migrate', ...common], { CHATD_MIGRATE: 'off' });
    expect(again.stdout).toMatch(/^schema is up to date \(version \d+\)\n$/);

    const server = startCli(['server', '--http-address', '127.0.0.1:0', ...common], { CHATD_MIGRATE: 'off' });
    try {
      await server.waitForStdout(/chatd is ready at (http:\/\/\S+)/, 30_000);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});

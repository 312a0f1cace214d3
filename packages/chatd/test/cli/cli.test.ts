import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { runCli, startCli } from '../support/cli-process.js';

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

describe('chatd command line', () => {
  it('gives every flag a CHATD_* variable, and --help shows both', () => {
    const program = buildProgram();
    const checked: string[] = [];
    // Per-invocation switches of one-shot commands are not configuration.
    const exempt = new Set([
      'create --admin',
      'create --with-password',
      'create --name',
      'create --expires-in',
      'openapi --output',
    ]);
    for (const command of allCommands(program)) {
      const help = command.helpInformation().replace(/\s+/g, ' ');
      for (const option of command.options) {
        if (option.long === '--help' || exempt.has(`${command.name()} ${option.long}`)) continue;
        expect(option.envVar, `${command.name()} ${option.long}`).toMatch(/^CHATD_[A-Z_]+$/);
        expect(help).toContain(option.long!);
        expect(help).toContain(`env: ${option.envVar}`);
        checked.push(`${command.name()} ${option.long}`);
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        'server --http-address',
        'server --postgres-url',
        'server --postgres-listen-url',
        'server --no-web',
        'server --postgres-prepared-statements',
        'migrate --postgres-prepared-statements',
        'server --cache-dir',
        'create --cache-dir',
      ]),
    );
  });

  it('prints usage and exits non-zero on an unknown flag', async () => {
    const result = await runCli(['server', '--no-such-flag']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
    expect(result.stderr).toContain('Usage: chatd server');
  });

  it('refuses --postgres-listen-url without --postgres-url', async () => {
    const result = await runCli(['server', '--postgres-listen-url', 'postgres://u:p@127.0.0.1:1/chatd']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--postgres-listen-url needs --postgres-url');
  });

  it('rejects a malformed --http-address before starting anything', async () => {
    const result = await runCli(['server', '--http-address', 'nonsense']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('is not a host:port address');
  });

  it('exits within seconds with a readable message when --postgres-url points at nothing', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));

    const started = Date.now();
    const result = await runCli([
      'server',
      '--postgres-url',
      `postgres://chatd:hunter2@127.0.0.1:${port}/chatd`,
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^chatd: cannot use PostgreSQL at postgres:\/\/chatd@127\.0\.0\.1:\d+\/chatd: connection refused/,
    );
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('accepts a multi-host URL and explains a libpq TLS parameter it cannot use, without the password', async () => {
    const result = await runCli([
      'server',
      '--postgres-url',
      'postgres://chatd:hunter2@127.0.0.1:1,127.0.0.1:2/chatd?sslmode=verify-full&target_session_attrs=read-write',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('sslmode=verify-full needs sslrootcert');
    expect(result.stderr).toContain('postgres://chatd@127.0.0.1:1,127.0.0.1:2/chatd');
    expect(result.stderr).not.toContain('hunter2');
  });

  it('rejects a cache TTL without a unit before starting anything', async () => {
    const result = await runCli(['server', '--config-cache-ttl', '10']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("option '--config-cache-ttl <duration>' argument '10' is invalid");
    expect(result.stderr).toContain('expected a duration such as 500ms, 10s or 5m');
  });

  it('rejects a takeover bound shorter than three heartbeat intervals', async () => {
    const result = await runCli([
      'server',
      '--turn-heartbeat-interval',
      '5s',
      '--turn-takeover-after',
      '14s',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      '--turn-takeover-after (14s) must be at least 3 x --turn-heartbeat-interval (5s)',
    );
  });

  it('rejects a headers timeout longer than the request timeout, from flags or variables', async () => {
    const result = await runCli(['server', '--http-headers-timeout', '40s'], {
      CHATD_HTTP_REQUEST_TIMEOUT: '20s',
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      '--http-headers-timeout (40s) must not be longer than --http-request-timeout (20s)',
    );
    const malformed = await runCli(['server', '--http-keep-alive-timeout', 'forever']);
    expect(malformed.code).not.toBe(0);
    expect(malformed.stderr).toContain(
      "option '--http-keep-alive-timeout <duration>' argument 'forever' is invalid",
    );
  });

  it('takes flags from CHATD_* variables', async () => {
    const result = await runCli(['server'], { CHATD_POSTGRES_URL: 'mysql://nope' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('expected a postgres:// or postgresql:// URL');
  });
});

describe('chatd server on embedded PostgreSQL', () => {
  const cacheDirs: string[] = [];
  afterAll(async () => {
    for (const dir of cacheDirs) await rm(dir, { recursive: true, force: true });
  });

  it('starts, prints the URL and a one-time admin token, answers /healthz, stops cleanly and keeps its data', async () => {
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'chatd-cli-'));
    cacheDirs.push(cacheDir);
    const args = ['server', '--cache-dir', cacheDir, '--http-address', '127.0.0.1:0', '--log-level', 'warn'];

    const first = startCli(args);
    const [, url] = await first.waitForStdout(/chatd is ready at (http:\/\/\S+)/);
    const [, token] = await first.waitForStdout(/^ {4}(chatd_\S+)$/m);
    expect(first.stdout()).toContain('will not be shown again');
    expect(token).toMatch(/^chatd_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    // A one-shot command attaches to the cluster the running server owns.
    const created = await runCli([
      'users',
      'create',
      'carol',
      '--cache-dir',
      cacheDir,
      '--log-level',
      'warn',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created member 'carol'/);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(path.join(cacheDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(first.stderr()).not.toContain(token!);

    const second = startCli(args);
    await second.waitForStdout(/chatd is ready at/);
    second.child.kill('SIGINT');
    expect(await second.exited, second.stderr()).toBe(0);
    expect(second.stdout()).not.toContain('Created the first admin');

    // The data survived both restarts: carol is still there.
    const again = await runCli(['users', 'create', 'carol', '--cache-dir', cacheDir, '--log-level', 'warn']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("a user named 'carol' already exists");
  });
});

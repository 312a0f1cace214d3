import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { createSql } from '../../src/db/connection.js';
import { createPostgresStore, type Store } from '../../src/db/store.js';
import { SecretBox } from '../../src/secrets/secret-box.js';
import { secretsKeyCheck } from '../../src/secrets/secrets-key-check.js';
import { type CliProcess, runCli, startCli } from '../support/cli-process.js';
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

/** A store on the test database, closed when the test finishes. */
function storeOn(database: TestDatabase): Store {
  const sql = createSql(database.url, { maxConnections: 2 });
  onTestFinished(() => sql.end({ timeout: 5 }));
  return createPostgresStore(sql);
}

/** Inserts a provider whose API key is sealed with `keys` (as a replica with those keys would). */
async function storeProvider(store: Store, keys: Buffer[], apiKey: string): Promise<string> {
  const row = await store.insertChatProvider({
    provider: 'openai',
    displayName: `provider for ${apiKey}`,
    apiKeyEncrypted: new SecretBox(keys).encrypt(apiKey),
    baseUrl: null,
    enabled: true,
  });
  return row.id;
}

/** Starts a server and expects it ready; it is stopped when the test finishes. */
async function expectReady(
  url: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliProcess> {
  const server = startServer(url, args, env);
  expect(await outcome(server), server.stderr()).toBe('ready');
  return server;
}

/**
 * Stops a server. Its exit code is not checked: `chatd server` prints "ready" a moment before it listens
 * for SIGTERM, and a signal in that window ends it with the default action (not what is tested here).
 */
async function stop(server: CliProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
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

const hex = () => randomBytes(32).toString('hex');

describe('secrets key flags in --help', () => {
  it('explains the key list and the key file on server and secrets rotate', () => {
    const program = buildProgram();
    const server = program.commands.find((command) => command.name() === 'server')!;
    const rotate = program.commands
      .find((command) => command.name() === 'secrets')!
      .commands.find((command) => command.name() === 'rotate')!;
    for (const command of [server, rotate]) {
      const help = command.helpInformation().replace(/\s+/g, ' ');
      expect(help).toContain('--secrets-key <keys>');
      expect(help).toContain('env: CHATD_SECRETS_KEY)');
      expect(help).toContain('--secrets-key-file <path>');
      expect(help).toContain('env: CHATD_SECRETS_KEY_FILE');
      expect(help).toContain('NEW,OLD');
      expect(help).toContain('not with --secrets-key');
    }
    expect(server.helpInformation().replace(/\s+/g, ' ')).toContain('one with another key refuses to start');
  });
});

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

  it('refuses to start a replica whose secrets key differs from the others, naming the key', async () => {
    const database = await freshDatabase();
    const [first, other] = [hex(), hex()];
    const replica = startServer(database.url, ['--secrets-key', first]);
    expect(await outcome(replica), replica.stderr()).toBe('ready');

    const stranger = startServer(database.url, ['--secrets-key', other]);
    const result = await outcome(stranger);
    expect(result, stranger.stdout()).toEqual({ code: 1 });
    expect(stranger.stderr()).toMatch(/^chatd: .*secrets key/);
    expect(stranger.stderr()).toContain('--secrets-key');
    expect(stranger.stderr()).not.toContain(other);
    expect(stranger.stderr()).not.toContain(first);
    expect(stranger.stderr()).not.toMatch(/^\s+at /m);
  });
});

describe('secrets key list, file and rotation', () => {
  it('reads the key from --secrets-key-file or CHATD_SECRETS_KEY_FILE, and refuses it next to --secrets-key', async () => {
    const database = await freshDatabase();
    const dir = await scratchDir('chatd-keyfile-');
    const key = hex();
    const file = path.join(dir, 'secrets-key');
    await writeFile(file, `# chatd secrets key\n${key}\n`, { mode: 0o600 });

    const first = await expectReady(database.url, ['--secrets-key-file', file]);
    await stop(first);
    expect(first.stderr()).not.toContain(key);
    // The same key, so the database's check passes; the file went nowhere else.
    const second = await expectReady(database.url, [], { CHATD_SECRETS_KEY_FILE: file });
    await stop(second);
    await expectReady(database.url, ['--secrets-key', key]);

    const both = await runCli(['server', '--secrets-key', key, '--secrets-key-file', file]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain(
      "option '--secrets-key <keys>' cannot be used with option '--secrets-key-file <path>'",
    );
    const fromEnv = await runCli(['server', '--secrets-key-file', file], { CHATD_SECRETS_KEY: key });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain("environment variable 'CHATD_SECRETS_KEY' cannot be used with option");
    expect(`${both.stderr}${fromEnv.stderr}`).not.toContain(key);

    const missing = await runCli(['server', '--secrets-key-file', path.join(dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot read the secrets key file ${path.join(dir, 'nope')} (ENOENT)`);
    const malformed = await runCli(['server', '--secrets-key', `${key},${key.slice(2)}`]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('error: --secrets-key: key 2 of 2: the secrets key must be 32 bytes');
    expect(malformed.stderr).not.toContain(key.slice(2));
  });

  it('rotates: replicas with NEW,OLD start, `chatd secrets rotate` re-encrypts, then OLD alone is refused', async () => {
    const database = await freshDatabase();
    const store = storeOn(database);
    const [old, next] = [hex(), hex()];
    const [oldKey, nextKey] = [Buffer.from(old, 'hex'), Buffer.from(next, 'hex')];
    await stop(await expectReady(database.url, ['--secrets-key', old]));
    const providerIds = [
      await storeProvider(store, [oldKey], 'sk-first'),
      await storeProvider(store, [oldKey], 'sk-second'),
    ];

    // Step 1: every replica restarts with the new key first; the database still records the old one.
    const both = await expectReady(database.url, ['--secrets-key', `${next},${old}`]);
    // The warning says what is left to do (logs are written asynchronously: wait for it).
    await both.waitForStderr(/first --secrets-key is not the one the database records.*chatd secrets rotate/);
    // A provider stored now, by a replica with both keys, is sealed with the new key.
    providerIds.push(await storeProvider(store, [nextKey, oldKey], 'sk-third'));

    // Step 2: rotate, while that replica runs.
    const rotated = await runCli([
      'secrets',
      'rotate',
      '--postgres-url',
      database.url,
      '--secrets-key',
      `${next},${old}`,
      '--log-level',
      'warn',
    ]);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^re-encrypted 3 provider API keys with the first secrets key/);
    expect(`${rotated.stdout}`).not.toContain(next);
    await stop(both);

    // Every stored API key opens with the new key alone, and the database records it.
    const onlyNew = new SecretBox(nextKey);
    const apiKeys = await Promise.all(
      providerIds.map(async (id) => onlyNew.decrypt((await store.getChatProviderById(id))!.apiKeyEncrypted!)),
    );
    expect(apiKeys).toEqual(['sk-first', 'sk-second', 'sk-third']);
    expect((await store.getSecretsKeyCheck())?.equals(secretsKeyCheck(nextKey))).toBe(true);

    // Step 3: the new key alone starts, without the rotation warning; the old key alone is refused.
    const newOnly = await expectReady(database.url, ['--secrets-key', next]);
    expect(newOnly.stderr()).not.toContain('chatd secrets rotate');
    const oldOnly = startServer(database.url, ['--secrets-key', old]);
    expect(await outcome(oldOnly)).toEqual({ code: 1 });
    expect(oldOnly.stderr()).toMatch(
      /^chatd: the secrets key of this replica is not the one this database records/,
    );
  });

  it('rotation changes nothing when a stored API key opens with none of the keys', async () => {
    const database = await freshDatabase();
    const store = storeOn(database);
    const [old, next] = [hex(), hex()];
    await stop(await expectReady(database.url, ['--secrets-key', old]));
    const fine = await storeProvider(store, [Buffer.from(old, 'hex')], 'sk-fine');
    const orphan = await storeProvider(store, [randomBytes(32)], 'sk-orphan');
    const before = await store.listChatProviders();

    const keysFile = path.join(await scratchDir('chatd-keyfile-'), 'keys');
    await writeFile(keysFile, `${next}\n${old}\n`, { mode: 0o600 });
    const result = await runCli(
      ['secrets', 'rotate', '--postgres-url', database.url, '--secrets-key-file', keysFile],
      { CHATD_LOG_LEVEL: 'warn' },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^chatd: the API key of provider 'provider for sk-orphan' \(/);
    expect(result.stderr).toContain(orphan);
    expect(result.stderr).toContain('nothing was changed');
    expect(await store.listChatProviders()).toEqual(before);
    expect(
      new SecretBox(Buffer.from(old, 'hex')).decrypt(
        (await store.getChatProviderById(fine))!.apiKeyEncrypted!,
      ),
    ).toBe('sk-fine');
    expect((await store.getSecretsKeyCheck())?.equals(secretsKeyCheck(Buffer.from(old, 'hex')))).toBe(true);

    const noKeys = await runCli(['secrets', 'rotate', '--postgres-url', database.url]);
    expect(noKeys.code).toBe(1);
    expect(noKeys.stderr).toContain('give the keys with --secrets-key NEW,OLD');
  });
});

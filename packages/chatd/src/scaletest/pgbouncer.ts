import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolvePostgresRunAs } from '../db/embedded/system-user.js';

/** A PgBouncer process of our own, in front of one PostgreSQL server (tests and `scaletest`). */
export interface Pgbouncer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** `serverUrl` with host and port replaced by PgBouncer's: the same user, password and database. */
  url(serverUrl: string): string;
  /** Stops the process and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which an unprivileged user's PATH often lacks. */
const PGBOUNCER_CANDIDATES = ['pgbouncer', '/usr/sbin/pgbouncer'];

/** The `pgbouncer` command that runs here, or undefined. */
async function findPgbouncer(): Promise<string | undefined> {
  for (const candidate of PGBOUNCER_CANDIDATES) {
    try {
      await promisify(execFile)(candidate, ['--version']);
      return candidate;
    } catch {
      // Try the next one.
    }
  }
  return undefined;
}

/** Why PgBouncer cannot run here, or undefined when a `pgbouncer` binary runs (on the PATH or in /usr/sbin). */
export async function pgbouncerUnavailable(): Promise<string | undefined> {
  if (await findPgbouncer()) return undefined;
  return `pgbouncer is not installed (neither on the PATH nor in /usr/sbin); on Debian: apt-get install pgbouncer (.ci/run does, as root)`;
}

/**
 * Starts `pgbouncer` on a free loopback port with a generated configuration in a temporary directory,
 * forwarding every database to the server of `serverUrl` (its user and password go into the userlist,
 * md5 towards clients, whatever the server asks for behind). `poolMode` is PgBouncer's `pool_mode`
 * (default `transaction`, the mode that breaks LISTEN). As root it runs as the `postgres` system user
 * (PgBouncer refuses root), like the embedded PostgreSQL. The Debian package's own service and
 * configuration are not used.
 */
export async function startPgbouncer(
  serverUrl: string,
  options: { poolMode?: 'session' | 'transaction' | 'statement'; poolSize?: number } = {},
): Promise<Pgbouncer> {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const binary = await findPgbouncer();
  if (!binary) throw new Error((await pgbouncerUnavailable()) ?? 'pgbouncer is not installed');
  const runAs = await resolvePostgresRunAs();
  const dir = await mkdtemp(path.join(tmpdir(), 'chatd-pgbouncer-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM'); // PgBouncer's immediate shutdown (SIGINT would wait for its clients).
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
    await writeFile(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
    const ini = [
      '[databases]',
      `* = host=${server.hostname.replace(/^\[|\]$/g, '')} port=${server.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'auth_type = md5',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 20}`,
      'max_client_conn = 2000',
      // PgBouncer only knows a few startup parameters; drivers send more (harmless ones) on their own.
      'ignore_startup_parameters = extra_float_digits,options',
      'admin_users = ',
      'server_check_query = ',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n');
    const iniPath = path.join(dir, 'pgbouncer.ini');
    await writeFile(iniPath, ini, { mode: 0o600 });
    if (runAs) {
      for (const file of [dir, iniPath, path.join(dir, 'userlist.txt')])
        await chown(file, runAs.uid, runAs.gid);
    }
    const started = spawn(binary, [iniPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    child = started;
    const log: string[] = [];
    started.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      log.push(chunk);
      if (log.length > 50) log.shift();
    });
    await waitForPort(port, started, () => log.join(''));
    return {
      port,
      url(url: string) {
        const parsed = new URL(url);
        parsed.hostname = '127.0.0.1';
        parsed.port = String(port);
        return parsed.toString();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Resolves once `port` accepts connections; rejects with PgBouncer's log when the process exits first. */
async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port} within 10 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

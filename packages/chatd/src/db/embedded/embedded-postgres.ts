import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { EmbeddedPostgresError } from '../../errors.js';
import { locatePostgresBinaries, type PostgresBinaries } from './postgres-binaries.js';
import { findBlockingDirectory, resolvePostgresRunAs, type SystemUser } from './system-user.js';

/** Options for {@link EmbeddedPostgres.start}. */
export interface EmbeddedPostgresOptions {
  /** The directory that holds everything: `postgres/` (the cluster) and `postgres-password`. */
  readonly baseDir: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one at every start. */
  readonly port?: number;
  /** Extra server settings (`-c name=value`), e.g. `{ fsync: 'off' }` for throwaway test clusters. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Receives every line PostgreSQL writes to stderr. */
  readonly onLog?: (line: string) => void;
  /** How long to wait for "ready to accept connections"; default 60 s. */
  readonly startTimeoutMs?: number;
}

const SUPERUSER = 'chatd';
const LOG_TAIL_LINES = 30;

/**
 * A PostgreSQL cluster owned by this process: initialised on first use under `baseDir`, kept across
 * restarts, listening only on 127.0.0.1, stopped by {@link stop}.
 *
 * The server runs in its own process group so that a terminal's Ctrl-C reaches chatd only: chatd closes
 * HTTP and its connections first and stops PostgreSQL last, with a fast shutdown that leaves no stale
 * `postmaster.pid`.
 */
export class EmbeddedPostgres {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #killOnExit: () => void;
  readonly #password: string;
  /** The TCP port the server listens on (127.0.0.1). */
  readonly port: number;
  /** The cluster directory. */
  readonly dataDir: string;

  private constructor(
    child: ChildProcess,
    exited: Promise<void>,
    port: number,
    password: string,
    dataDir: string,
  ) {
    this.#child = child;
    this.#exited = exited;
    this.port = port;
    this.#password = password;
    this.dataDir = dataDir;
    // Last resort if chatd dies without calling stop(): do not leave an orphaned postmaster behind.
    this.#killOnExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    };
    process.on('exit', this.#killOnExit);
  }

  /** The postmaster's process id (its backends are its children); undefined once it has exited. */
  get pid(): number | undefined {
    return this.#child.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  /** A connection URL for `database` as the cluster's superuser. */
  connectionUrl(database = 'postgres'): string {
    return embeddedConnectionUrl(this.#password, this.port, database);
  }

  /**
   * Initialises the cluster when `baseDir/postgres` holds none yet, then starts it. Fails with an
   * {@link EmbeddedPostgresError} whose message says what to do (no hang: bounded by `startTimeoutMs`).
   */
  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const binaries = await locatePostgresBinaries();
    const runAs = await resolvePostgresRunAs().catch((error: Error) => {
      throw new EmbeddedPostgresError(error.message);
    });
    const baseDir = path.resolve(options.baseDir);
    const dataDir = path.join(baseDir, 'postgres');
    // As root, the postgres user must be able to search baseDir to reach its cluster; files inside stay 0600.
    await mkdir(baseDir, { recursive: true, mode: 0o700 });
    if (runAs) await chmod(baseDir, 0o711);
    if (runAs) await assertReachable(runAs, [binaries.nativeDir, dataDir]);

    const password = await readOrCreatePassword(path.join(baseDir, 'postgres-password'));
    if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
      await initialiseCluster(binaries, dataDir, password, runAs, options.onLog);
    }
    const port = options.port || (await findFreePort());
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      max_connections: '300',
      ...options.settings,
    };
    const args = ['-D', dataDir, '-p', String(port)];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);

    const child = spawn(binaries.postgres, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    const exited = once(child, 'exit').then(() => undefined);
    const tail: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      const timeoutMs = options.startTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        child.kill('SIGQUIT');
        reject(startFailure(`did not become ready within ${timeoutMs} ms`, tail, dataDir));
      }, timeoutMs);
      createInterface({ input: child.stderr! }).on('line', (line) => {
        tail.push(line);
        if (tail.length > LOG_TAIL_LINES) tail.shift();
        options.onLog?.(line);
        if (line.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new EmbeddedPostgresError(`could not run ${binaries.postgres}: ${error.message}`, { cause: error }),
        );
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(startFailure(`exited during start-up (${signal ?? `code ${code}`})`, tail, dataDir));
      });
    });
    await ready;
    return new EmbeddedPostgres(child, exited, port, password, dataDir);
  }

  /**
   * Stops the server with a fast shutdown (open sessions are rolled back, data is flushed) and waits for
   * it to exit; escalates to an immediate shutdown after `timeoutMs`. Safe to call twice.
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    process.off('exit', this.#killOnExit);
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGINT');
    const timer = setTimeout(() => this.#child.kill('SIGQUIT'), timeoutMs);
    try {
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The superuser URL of an embedded cluster listening on 127.0.0.1:`port`. */
export function embeddedConnectionUrl(password: string, port: number, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function assertReachable(runAs: SystemUser, paths: string[]): Promise<void> {
  for (const target of paths) {
    const blocking = await findBlockingDirectory(target, runAs);
    if (blocking === undefined) continue;
    throw new EmbeddedPostgresError(
      `chatd is running as root, so embedded PostgreSQL runs as the system user '${runAs.name}', and that user ` +
        `cannot enter ${blocking} (needed to reach ${target}). Do one of: run chatd as an unprivileged user; ` +
        `pass --cache-dir with a directory '${runAs.name}' can reach (for example --cache-dir /var/lib/chatd); ` +
        `grant search permission with 'chmod o+x ${blocking}'; or pass --postgres-url to use an existing server.`,
    );
  }
}

/**
 * Runs initdb into a scratch directory and renames it into place, so a failed or interrupted first start
 * never leaves a half-initialised cluster that later starts would trip over.
 */
async function initialiseCluster(
  binaries: PostgresBinaries,
  dataDir: string,
  password: string,
  runAs: SystemUser | undefined,
  onLog: ((line: string) => void) | undefined,
): Promise<void> {
  const scratchDir = `${dataDir}.init-${process.pid}`;
  const passwordFile = `${dataDir}.pwfile-${process.pid}`;
  await rm(scratchDir, { recursive: true, force: true });
  await mkdir(scratchDir, { mode: 0o700 });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) {
    await chown(scratchDir, runAs.uid, runAs.gid);
    await chown(passwordFile, runAs.uid, runAs.gid);
  }
  try {
    const child = spawn(
      binaries.initdb,
      [
        `--pgdata=${scratchDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      },
    );
    const output: string[] = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        onLog?.(line);
      });
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) {
      throw new EmbeddedPostgresError(
        `initdb failed (exit code ${code}):\n${output.slice(-LOG_TAIL_LINES).join('\n')}`,
      );
    }
    await rename(scratchDir, dataDir);
  } finally {
    await rm(passwordFile, { force: true });
    await rm(scratchDir, { recursive: true, force: true });
  }
}

function startFailure(what: string, tail: string[], dataDir: string): EmbeddedPostgresError {
  const log = tail.join('\n');
  const hint = log.includes('postmaster.pid')
    ? `\nAnother PostgreSQL (another chatd server?) is using ${dataDir}; stop it or pass another --cache-dir.`
    : '';
  return new EmbeddedPostgresError(`embedded PostgreSQL ${what}.${hint}\nPostgreSQL said:\n${log}`);
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return password;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function findFreePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}

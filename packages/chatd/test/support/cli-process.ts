import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The `chatd` command; it runs the build in dist/ (`npm install` builds it; `npm run build` after changing sources). */
export const CLI_PATH = fileURLToPath(new URL('../../bin/chatd.js', import.meta.url));
const BUILT_ENTRY = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** A `chatd` child process with its output collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (signal exits become -1). */
  readonly exited: Promise<number>;
  /** Resolves when stdout matches `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The same for stderr. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/**
 * Starts the built CLI with `args`; `env` is added to a copy of this process's environment; `stdin`, when
 * given, is written to its standard input (which is then closed).
 */
export function startCli(args: string[], env: Record<string, string> = {}, stdin?: string): CliProcess {
  if (!existsSync(BUILT_ENTRY)) throw new Error(`${BUILT_ENTRY} is missing: run 'npm run build' first`);
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: { ...process.env, ...env },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    err += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => (typeof code === 'number' ? code : -1));
  const waitForOutput = (
    name: 'stdout' | 'stderr',
    pattern: RegExp,
    timeoutMs = 60_000,
  ): Promise<RegExpMatchArray> => {
    const stream = child[name]!;
    const text = () => (name === 'stdout' ? out : err);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${pattern} on ${name}; stdout: ${out}\nstderr: ${err}`));
      }, timeoutMs);
      const check = () => {
        const match = pattern.exec(text());
        if (match) {
          cleanup();
          resolve(match);
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`chatd exited (${code}) before printing ${pattern}; stderr: ${err}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        stream.off('data', check);
        child.off('exit', onExit);
      };
      stream.on('data', check);
      child.once('exit', onExit);
      check();
    });
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout: (pattern, timeoutMs) => waitForOutput('stdout', pattern, timeoutMs),
    waitForStderr: (pattern, timeoutMs) => waitForOutput('stderr', pattern, timeoutMs),
  };
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = startCli(args, env, stdin);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

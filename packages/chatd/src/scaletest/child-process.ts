import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The `chatd` command of this installation. */
export const CHATD_BIN = fileURLToPath(new URL('../../bin/chatd.js', import.meta.url));

/** A `chatd` child process started by the scale test. */
export interface ChatdChild {
  readonly child: ChildProcess;
  /** stderr collected so far (logs, for diagnosis). */
  stderr(): string;
  /** Peak resident set size in bytes (Linux VmHWM), or undefined where unavailable. */
  peakRss(): Promise<number | undefined>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `chatd <args>` and waits until its stdout has matched every pattern; resolves with the matches.
 * Rejects with its stderr if it exits first or takes longer than `timeoutMs`.
 */
export async function startChatdChild(
  args: string[],
  waitFor: RegExp[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ process: ChatdChild; matches: RegExpMatchArray[] }> {
  const child = spawn(process.execPath, [CHATD_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-64 * 1024);
  });
  const exited = once(child, 'exit');
  // Never leave a replica behind: if this process ends without stopping it (a crash, a killed test
  // worker that still runs its exit handlers), take the child down with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const matches = await new Promise<RegExpMatchArray[]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`chatd ${args[0]} did not start in time; stderr:\n${stderr}`)),
      options.timeoutMs ?? 60_000,
    );
    const check = () => {
      const found = waitFor.map((pattern) => pattern.exec(stdout));
      if (found.every((match) => match !== null)) {
        clearTimeout(timer);
        resolve(found as RegExpMatchArray[]);
      }
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      check();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chatd ${args[0]} exited (${code}) during start-up; stderr:\n${stderr}`));
    });
  });
  child.stdout!.resume();
  return {
    matches,
    process: {
      child,
      stderr: () => stderr,
      async peakRss() {
        try {
          const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
          const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
          return kb === undefined ? undefined : Number(kb) * 1024;
        } catch {
          return undefined;
        }
      },
      async stop(graceMs = 30_000) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    },
  };
}

/** Reads a Prometheus text exposition into `name{labels}` → value. */
export async function scrapeMetrics(metricsUrl: string): Promise<Map<string, number>> {
  const response = await fetch(metricsUrl);
  const text = await response.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** `chatd_db_queries_total` by query name. */
export function queryCounts(metrics: Map<string, number>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [key, value] of metrics) {
    const match = /^chatd_db_queries_total\{query="([^"]+)"\}$/.exec(key);
    if (match) counts.set(match[1]!, value);
  }
  return counts;
}

import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readProcessTable } from '../../src/scaletest/process-cpu.js';
import { startCli } from '../support/cli-process.js';

/** Live processes: pid, parent pid and command line. */
async function processes(): Promise<Array<{ pid: number; ppid: number; cmdline: string }>> {
  const found = [];
  for (const { pid, ppid } of (await readProcessTable()) ?? []) {
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      found.push({ pid, ppid, cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe.runIf(process.platform === 'linux')('chatd scaletest run, stopped', () => {
  it.each([
    ['during the load', /running 200 chats x 1000 turns/],
    // PostgreSQL is still being set up: the run waits for it to be up, then takes it down.
    ['while PostgreSQL starts', /starting PostgreSQL/],
  ])(
    'stops every process it started and removes its scratch files on SIGINT %s',
    async (_, stage) => {
      // Its own temporary directory, so that what it leaves behind (files, processes naming them) is its own.
      const scratch = await mkdtemp(path.join(tmpdir(), 'chatd-stop-test-'));
      // As root, the embedded PostgreSQL runs as the postgres user, which must reach its cluster in here.
      await chmod(scratch, 0o755);
      try {
        const cli = startCli(
          [
            'scaletest',
            'run',
            '--replicas',
            '2',
            '--chats',
            '200',
            '--turns',
            '1000',
            '--llm-latency-ms',
            '20',
          ],
          { TMPDIR: scratch },
        );
        await cli.waitForStderr(stage, 120_000);
        const running = await processes();
        const named = running.filter((process) => process.cmdline.includes(scratch));
        const children = running.filter((process) => process.ppid === cli.child.pid);
        if (stage.source.startsWith('running')) {
          // Started: the embedded PostgreSQL and both replicas (their data lives under `scratch`), the mock.
          expect(named.filter((process) => /\bpostgres\b/.test(process.cmdline))).toHaveLength(1);
          expect(named.filter((process) => process.cmdline.includes(' server '))).toHaveLength(2);
          expect(children.filter((process) => process.cmdline.includes('llm-mock'))).toHaveLength(1);
        }
        const started = new Set([...named, ...children].map((process) => process.pid));

        cli.child.kill('SIGINT');
        expect(await cli.exited).toBe(130);
        expect(cli.stderr()).toContain('SIGINT: stopping the replicas, the mock LLM and PostgreSQL');
        expect(cli.stderr()).toContain('stopped; everything it started is gone');

        const left = (await processes()).filter(
          (process) => started.has(process.pid) || process.cmdline.includes(scratch),
        );
        expect(left).toEqual([]);
        expect(await readdir(scratch)).toEqual([]);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    180_000,
  );
});

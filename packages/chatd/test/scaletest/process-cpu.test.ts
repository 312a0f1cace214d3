import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { parseProcStat, processTreeCpuSeconds, readProcessTable } from '../../src/scaletest/process-cpu.js';

describe('parseProcStat', () => {
  it('counts fields from the last parenthesis, whatever the command name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const stat = '4242 (a (weird) name) S 17 4242 4242 0 -1 4194304 10 0 0 0 150 50 7 3 20 0 1 0 100 0 0';
    expect(parseProcStat(stat)).toEqual({ pid: 4242, ppid: 17, ticks: 150 + 50 + 7 + 3 });
  });

  it('rejects text that is not a stat line', () => {
    expect(parseProcStat('no parenthesis here')).toBeUndefined();
    expect(parseProcStat('12 (x) S')).toBeUndefined();
  });
});

describe.runIf(process.platform === 'linux')('processTreeCpuSeconds', () => {
  it('counts a live child and a reaped grandchild of the process', async () => {
    // The child burns CPU in a grandchild it waits for (reaped: counted in the child's cutime), then burns
    // some itself and reports; it stays alive until stdin closes.
    // Burns until the process has used 300 ms of CPU (not of wall time: a busy machine would give less).
    const burn = 'while (process.cpuUsage().user < 300_000);';
    const script = `
      const { spawnSync } = require('node:child_process');
      spawnSync(process.execPath, ['-e', ${JSON.stringify(burn)}]);
      ${burn}
      process.stdout.write('ready\\n');
      process.stdin.resume();
      process.stdin.on('end', () => process.exit(0));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await once(child.stdout!, 'data');
      const own = processTreeCpuSeconds(child.pid!, (await readProcessTable())!);
      // Two processes of at least 300 ms of CPU each (less a tick of rounding): more than either alone.
      expect(own).toBeGreaterThanOrEqual(0.55);
    } finally {
      child.stdin!.end();
      await once(child, 'exit');
    }
    expect(processTreeCpuSeconds(child.pid!, (await readProcessTable())!)).toBeUndefined();
  });
});

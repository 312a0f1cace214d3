import { readdir, readFile } from 'node:fs/promises';

/**
 * Linux reports process times in clock ticks of USER_HZ, which the kernel fixes at 100 per second on
 * every architecture chatd runs on (x86-64, arm64); Node has no sysconf(_SC_CLK_TCK) to ask.
 */
const TICKS_PER_SECOND = 100;

/** The fields of `/proc/<pid>/stat` the CPU accounting needs. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks: the process and its children it has waited for. */
  readonly ticks: number;
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may hold spaces or
 * parentheses itself, so the fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // After ") ": field 3 (state) is index 0, so field n is index n - 3.
  const fields = text.slice(close + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  const ticks = field(14) + field(15) + field(16) + field(17);
  if (!Number.isFinite(pid) || !Number.isFinite(ticks)) return undefined;
  return { pid, ppid: field(4), ticks };
}

async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone, or not Linux
  }
}

/**
 * Every live process's `/proc/<pid>/stat` essentials, read once. Linux only: undefined where `/proc` is
 * missing.
 */
export async function readProcessTable(): Promise<ProcStat[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const stats = await Promise.all(
    entries.filter((name) => /^\d+$/.test(name)).map((name) => readProcStat(Number(name))),
  );
  return stats.filter((stat): stat is ProcStat => stat !== undefined);
}

/**
 * CPU seconds (user + system) used so far by a process and every descendant of it: the live ones, and
 * the exited ones whose parents have reaped them (the kernel adds those to the parent's child times).
 * That makes it right for PostgreSQL, whose backends come and go under the postmaster.
 *
 * `table` is a {@link readProcessTable} to reuse (one read for several processes); undefined where the
 * process is not in it (gone, or not Linux).
 */
export function processTreeCpuSeconds(rootPid: number, table: readonly ProcStat[]): number | undefined {
  const root = table.find((stat) => stat.pid === rootPid);
  if (!root) return undefined;
  const children = new Map<number, ProcStat[]>();
  for (const stat of table) {
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else children.set(stat.ppid, [stat]);
  }
  let ticks = 0;
  const queue = [root];
  for (let next = queue.pop(); next; next = queue.pop()) {
    ticks += next.ticks;
    queue.push(...(children.get(next.pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}

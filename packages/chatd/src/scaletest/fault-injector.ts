import { performance } from 'node:perf_hooks';
import type { ReplicaPool } from './replica-pool.js';
import type { ReplicaProcess } from './replica-process.js';

/** The faults the injector runs during the load (the mock LLM's failures run throughout, on their own). */
export type FaultKind = 'kill-replica' | 'restart-postgres' | 'terminate-listeners';

/** The order faults follow in each round. */
export const FAULT_KINDS: readonly FaultKind[] = Object.freeze([
  'kill-replica',
  'restart-postgres',
  'terminate-listeners',
]);

/** One fault of the schedule. */
export interface PlannedFault {
  /** 1-based. */
  readonly number: number;
  readonly kind: FaultKind;
  /** Injected once the load has finished this many turns (and the fault before it has recovered). */
  readonly atTurns: number;
}

/** What became of a planned fault. */
export interface InjectedFault {
  readonly planned: PlannedFault;
  /** ms since the load started; undefined when it was not injected. */
  readonly injectedAtMs: number | undefined;
  /** What was done (the replica killed and its replacement; the listeners terminated). */
  readonly detail: string;
  /** Why it was not injected, or failed. */
  readonly skipped?: string;
  /**
   * ms from the injection until every live replica was ready (GET /readyz 200) and a turn accepted after
   * the injection was answered; undefined when that did not happen within the bound.
   */
  readonly recoveryMs: number | undefined;
}

/** What the injector needs from the run. */
export interface FaultInjectorOptions {
  readonly schedule: readonly PlannedFault[];
  readonly pool: ReplicaPool;
  /** The live replicas, oldest first; the injector kills the oldest and appends its replacement. */
  readonly replicas: ReplicaProcess[];
  /** Starts a fresh replica (not yet in the pool). */
  readonly startReplica: () => Promise<ReplicaProcess>;
  /** Restarts PostgreSQL; undefined when it is not ours to restart (`--postgres-url`). */
  readonly restartPostgres: (() => Promise<void>) | undefined;
  /** Terminates every LISTEN connection of the database; resolves how many it terminated. */
  readonly terminateListeners: () => Promise<number>;
  /** How long a fault may take to recover before it counts as not recovered. */
  readonly recoveryTimeoutMs: number;
  /** How long the injector waits for a fault to recover before it injects the next one anyway. */
  readonly maxGapMs: number;
  /** Progress lines, timestamped by the caller. */
  readonly say: (line: string) => void;
  /**
   * Runs one turn of its own and resolves when it was accepted and answered ([acceptedAt, answeredAt]);
   * rejects when it failed. Used once the load has ended, when it left no later turn to watch.
   */
  readonly probeTurn: () => Promise<readonly [number, number]>;
  /** A stopped run measures no more recoveries. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * The fault schedule: `rounds` rounds of {@link FAULT_KINDS}, spread evenly over the first three
 * quarters of the load's turns (fault k of n once 3k/4n of them are finished), so that every fault
 * lands while the load runs whatever the machine's speed, with a quarter of the turns left for the last
 * one to wait for the recovery before it and to recover itself.
 */
export function planFaults(rounds: number, totalTurns: number): PlannedFault[] {
  const count = rounds * FAULT_KINDS.length;
  return Array.from({ length: count }, (_, index) => ({
    number: index + 1,
    kind: FAULT_KINDS[index % FAULT_KINDS.length]!,
    atTurns: Math.max(1, Math.floor((3 * (index + 1) * totalTurns) / (4 * count))),
  }));
}

/** A fault's description for the schedule and the log. */
export function describeFault(kind: FaultKind): string {
  switch (kind) {
    case 'kill-replica':
      return 'SIGKILL of the oldest replica, and a fresh replacement';
    case 'restart-postgres':
      return 'restart of PostgreSQL (fast shutdown, start on the same data directory and port)';
    case 'terminate-listeners':
      return 'termination of every LISTEN connection (pg_terminate_backend)';
  }
}

/**
 * Runs the schedule during the load: {@link onProgress} injects each fault once its turn count is
 * reached and the fault before it has recovered (or `maxGapMs` has passed), then measures its recovery.
 * Faults are injected one at a time.
 */
export class FaultInjector {
  readonly #options: FaultInjectorOptions;
  readonly #startedAt = performance.now();
  readonly #results: InjectedFault[] = [];
  #next = 0;
  /** The injection (and recovery measurement) in flight. */
  #current: Promise<void> | undefined;
  /** When the fault in flight was injected, and whether it has recovered. */
  #currentInjectedAt = 0;
  #currentRecovered = true;
  #stopped = false;
  /** Times (performance.now()) at which turns accepted then were answered: [acceptedAt, answeredAt]. */
  readonly #answered: Array<readonly [number, number]> = [];
  readonly #recoveries = new Set<Promise<void>>();

  constructor(options: FaultInjectorOptions) {
    this.#options = options;
  }

  /** ms since the injector was made (the load's clock). */
  elapsedMs(at = performance.now()): number {
    return at - this.#startedAt;
  }

  /** The load answered a turn whose message was accepted at `acceptedAt`. */
  noteAnswered(acceptedAt: number, answeredAt: number): void {
    // Only the newest matter: recoveries look for a turn accepted after their injection.
    if (this.#answered.length > 1_000) this.#answered.splice(0, 500);
    this.#answered.push([acceptedAt, answeredAt]);
  }

  /** Called with the load's progress; injects the next fault when it is due. */
  onProgress(finishedTurns: number): void {
    if (this.#stopped || this.#current || this.#next >= this.#options.schedule.length) return;
    const planned = this.#options.schedule[this.#next]!;
    if (finishedTurns < planned.atTurns) return;
    const gapOver = performance.now() - this.#currentInjectedAt >= this.#options.maxGapMs;
    if (!this.#currentRecovered && !gapOver) return;
    this.#next += 1;
    this.#current = this.#inject(planned).finally(() => {
      this.#current = undefined;
    });
  }

  /**
   * The load has ended: faults not injected yet are reported as skipped; waits for the injection in
   * flight and for every recovery measurement (each bounded by `recoveryTimeoutMs`).
   */
  async finish(): Promise<InjectedFault[]> {
    this.#stopped = true;
    await this.#current;
    for (const planned of this.#options.schedule.slice(this.#next)) {
      this.#results.push({
        planned,
        injectedAtMs: undefined,
        detail: '',
        skipped: 'the load ended before it was due',
        recoveryMs: undefined,
      });
    }
    this.#next = this.#options.schedule.length;
    await Promise.all(this.#recoveries);
    return this.#results.sort((a, b) => a.planned.number - b.planned.number);
  }

  async #inject(planned: PlannedFault): Promise<void> {
    const { say } = this.#options;
    const injectedAt = performance.now();
    this.#currentInjectedAt = injectedAt;
    this.#currentRecovered = false;
    say(`fault ${planned.number}: ${describeFault(planned.kind)}`);
    let detail: string;
    try {
      detail = await this.#run(planned.kind);
    } catch (error) {
      const skipped = `failed: ${(error as Error).message}`;
      say(`fault ${planned.number}: ${skipped}`);
      this.#results.push({
        planned,
        injectedAtMs: this.elapsedMs(injectedAt),
        detail: '',
        skipped,
        recoveryMs: undefined,
      });
      this.#currentRecovered = true;
      return;
    }
    if (detail.startsWith('skipped: ')) {
      say(`fault ${planned.number}: ${detail}`);
      this.#results.push({
        planned,
        injectedAtMs: undefined,
        detail: '',
        skipped: detail.slice('skipped: '.length),
        recoveryMs: undefined,
      });
      this.#currentRecovered = true;
      return;
    }
    say(`fault ${planned.number}: ${detail}`);
    const recovery = this.#measureRecovery(injectedAt).then((recoveryMs) => {
      // Only the newest fault's recovery opens the way for the next one.
      if (this.#currentInjectedAt === injectedAt) this.#currentRecovered = true;
      this.#results.push({ planned, injectedAtMs: this.elapsedMs(injectedAt), detail, recoveryMs });
      say(
        recoveryMs === undefined
          ? `fault ${planned.number}: not recovered within ${this.#options.recoveryTimeoutMs} ms`
          : `fault ${planned.number}: recovered in ${(recoveryMs / 1000).toFixed(1)} s (every replica ready, a turn accepted after it answered)`,
      );
    });
    this.#recoveries.add(recovery);
  }

  async #run(kind: FaultKind): Promise<string> {
    const options = this.#options;
    switch (kind) {
      case 'kill-replica': {
        const victim = options.replicas.shift();
        if (!victim) return 'skipped: no replica to kill';
        const exited = new Promise((resolve) => victim.process.child.once('exit', resolve));
        victim.process.child.kill('SIGKILL');
        options.pool.remove(victim.url);
        await exited;
        const startedAt = performance.now();
        const replacement = await startWithRetries(options.startReplica);
        options.replicas.push(replacement);
        options.pool.add(replacement.url);
        return `killed replica ${victim.index} (pid ${victim.process.child.pid}); replica ${replacement.index} (pid ${replacement.process.child.pid}) serves at ${replacement.url} after ${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
      }
      case 'restart-postgres': {
        if (!options.restartPostgres)
          return 'skipped: PostgreSQL is external (--postgres-url), not ours to restart';
        const startedAt = performance.now();
        await options.restartPostgres();
        return `PostgreSQL restarted in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
      }
      case 'terminate-listeners': {
        const terminated = await options.terminateListeners();
        return `terminated ${terminated} LISTEN connection${terminated === 1 ? '' : 's'}`;
      }
    }
  }

  /** Polls until every live replica is ready and a turn accepted after `injectedAt` was answered. */
  async #measureRecovery(injectedAt: number): Promise<number | undefined> {
    const deadline = injectedAt + this.#options.recoveryTimeoutMs;
    let readyAt: number | undefined;
    let notReady = '';
    let answered: readonly [number, number] | undefined;
    let probe: Promise<void> | undefined;
    while (performance.now() < deadline && !this.#options.signal?.aborted) {
      // The load ended without a turn after this fault (it came late): a turn of the injector's own.
      if (this.#stopped && !answered && !probe) {
        probe = this.#options.probeTurn().then(
          (turn) => this.noteAnswered(turn[0], turn[1]),
          () => {
            probe = undefined;
          },
        );
      }
      if (readyAt === undefined) {
        const probes = await Promise.all(
          this.#options.replicas.map(async (replica) => ({ replica, answer: await readiness(replica.url) })),
        );
        const waiting = probes.filter((probe) => probe.answer !== 'ready');
        if (probes.length > 0 && waiting.length === 0) readyAt = performance.now();
        else notReady = waiting.map((probe) => `replica ${probe.replica.index}: ${probe.answer}`).join('; ');
      }
      answered ??= this.#answered.find(([acceptedAt]) => acceptedAt > injectedAt);
      if (readyAt !== undefined && answered) return Math.max(readyAt, answered[1]) - injectedAt;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.#options.say(
      `recovery of the fault at +${(this.elapsedMs(injectedAt) / 1000).toFixed(1)} s: ${readyAt === undefined ? `not every replica ready (last: ${notReady || 'no replica'})` : 'every replica ready'}; ${answered ? 'a turn accepted after it was answered' : 'no turn accepted after it was answered'}`,
    );
    return undefined;
  }
}

/** Replacement starts can fail while PostgreSQL is down (a restart right before): a few more tries. */
async function startWithRetries(start: () => Promise<ReplicaProcess>): Promise<ReplicaProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

/**
 * 'ready' when GET /readyz answers 200 (a server without it, 404, is asked GET /healthz instead);
 * otherwise what it answered (status and body), or why it did not (a refused connection, the 5 s
 * timeout: a replica under full load answers slowly).
 */
export async function readiness(url: string): Promise<string> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
    const body = await response.text();
    if (response.status === 200) return 'ready';
    if (response.status !== 404) return `${response.status} ${body.slice(0, 200)}`;
    const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    const healthBody = await health.text();
    return health.status === 200 ? 'ready' : `healthz ${health.status} ${healthBody.slice(0, 200)}`;
  } catch (error) {
    return (error as Error).message;
  }
}

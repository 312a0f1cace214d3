/**
 * Hit-path and stampede benchmark: `npm run bench -w @chatd/cache`.
 *
 * Hit path: every contender caches the same 1,024 warm keys; one round is 100,000 reads cycling over them,
 * each awaited (or, for the synchronous rows, used directly), timed with `process.hrtime`. Rounds are
 * interleaved across contenders (so drift and GC pressure hit them alike), a forced GC precedes each round,
 * the first rounds are warm-up, and the table shows the median of the rest.
 *
 * Stampede: a fresh instance of each contender gets 10,000 concurrent reads of one cold key, with a loader
 * that takes 5 ms and counts its calls.
 */
import { availableParallelism, cpus } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import {
  bareMapAsync,
  bareMapSync,
  CONTENDERS,
  type Contender,
  chatdGet,
  type Provider,
} from './contenders.js';

const KEY_COUNT = 1_024; // a power of two, so `i & KEY_MASK` cycles over the keys
const KEY_MASK = KEY_COUNT - 1;
const READS_PER_ROUND = 100_000;
const WARM_UP_ROUNDS = 5;
const MEASURED_ROUNDS = 15;
const STAMPEDE_READS = 10_000;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `provider:${i}`);
const collectGarbage: () => void =
  typeof globalThis.gc === 'function' ? globalThis.gc : () => console.warn('run node with --expose-gc');

function makeProvider(key: string): Provider {
  return { id: key, name: `Provider ${key}`, models: ['small', 'large'] };
}

interface HitPathSubject {
  readonly contender: Contender;
  readonly read: (key: string) => unknown;
  readonly loads: () => number;
  readonly samples: number[];
}

async function prepare(contender: Contender): Promise<HitPathSubject> {
  let loads = 0;
  const cache = contender.create(async (key) => {
    loads++;
    return makeProvider(key);
  });
  for (const key of keys) await cache.warm(key);
  // `cache.read` itself, not a wrapper: no harness layer beyond the one indirect call every contender pays.
  return { contender, read: cache.read, loads: () => loads, samples: [] };
}

/** Nanoseconds per awaited read. Throws if a read comes back empty: every read must be a hit. */
async function timeAwaitedReads(read: (key: string) => unknown): Promise<number> {
  let found = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < READS_PER_ROUND; i++) {
    if ((await read(keys[i & KEY_MASK]!)) !== undefined) found++;
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  if (found !== READS_PER_ROUND) throw new Error(`only ${found} of ${READS_PER_ROUND} reads were hits`);
  return elapsed / READS_PER_ROUND;
}

/** Nanoseconds per synchronous read, measured the same way minus the await. */
function timeSyncReads(read: (key: string) => unknown): number {
  let found = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < READS_PER_ROUND; i++) {
    if (read(keys[i & KEY_MASK]!) !== undefined) found++;
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  if (found !== READS_PER_ROUND) throw new Error(`only ${found} of ${READS_PER_ROUND} reads were hits`);
  return elapsed / READS_PER_ROUND;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function measureHitPath(): Promise<Map<Contender, number>> {
  const subjects: HitPathSubject[] = [];
  for (const contender of CONTENDERS) subjects.push(await prepare(contender));
  for (let round = 0; round < WARM_UP_ROUNDS + MEASURED_ROUNDS; round++) {
    for (const subject of subjects) {
      collectGarbage();
      const nsPerRead = subject.contender.synchronous
        ? timeSyncReads(subject.read)
        : await timeAwaitedReads(subject.read);
      if (round >= WARM_UP_ROUNDS) subject.samples.push(nsPerRead);
    }
  }
  const result = new Map<Contender, number>();
  for (const subject of subjects) {
    if (subject.loads() !== KEY_COUNT) {
      throw new Error(`${subject.contender.name} loaded ${subject.loads()} times for ${KEY_COUNT} warm keys`);
    }
    result.set(subject.contender, median(subject.samples));
  }
  return result;
}

/** How many times the loader runs for 10,000 concurrent reads of one cold key. */
async function measureStampede(contender: Contender): Promise<number> {
  let loads = 0;
  const cache = contender.create(async (key) => {
    loads++;
    await delay(5);
    return makeProvider(key);
  });
  const reads: unknown[] = [];
  for (let i = 0; i < STAMPEDE_READS; i++) reads.push(cache.read('cold'));
  const values = await Promise.all(reads);
  if (values.some((value) => value === undefined))
    throw new Error(`${contender.name}: a stampede read was empty`);
  return loads;
}

function formatNs(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns.toFixed(1);
}

async function main(): Promise<void> {
  const nsPerHit = await measureHitPath();
  const stampedeLoads = new Map<Contender, number>();
  for (const contender of CONTENDERS) {
    if (contender.loadsOnMiss) stampedeLoads.set(contender, await measureStampede(contender));
  }

  const floorAsync = nsPerHit.get(bareMapAsync)!;
  const floorSync = nsPerHit.get(bareMapSync)!;
  const lines = [
    '| implementation | ns per hit | vs. floor | loads for 10,000 concurrent cold reads |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const contender of CONTENDERS) {
    const ns = nsPerHit.get(contender)!;
    const floor = contender.synchronous ? floorSync : floorAsync;
    const loads = stampedeLoads.get(contender);
    lines.push(
      `| ${contender.name} | ${formatNs(ns)} | ${(ns / floor).toFixed(2)}x | ${loads === undefined ? 'n/a (never loads)' : loads.toLocaleString('en-US')} |`,
    );
  }

  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(
    `Node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} cores (${cpu}).`,
  );
  console.log(
    `${KEY_COUNT.toLocaleString('en-US')} warm keys; median of ${MEASURED_ROUNDS} rounds of ${READS_PER_ROUND.toLocaleString('en-US')} reads after ${WARM_UP_ROUNDS} warm-up rounds; async rows awaited, "vs. floor" against the floor of the same kind.`,
  );
  console.log('');
  console.log(lines.join('\n'));
  console.log('');

  const getNs = nsPerHit.get(chatdGet)!;
  const peers = CONTENDERS.filter((c) => /async-cache-dedupe|cache-manager|bentocache/.test(c.name));
  const slowestPeerRatio = Math.min(...peers.map((peer) => nsPerHit.get(peer)! / getNs));
  const checks: [string, boolean][] = [
    [`get within 1.5x of the floor (${(getNs / floorAsync).toFixed(2)}x)`, getNs <= 1.5 * floorAsync],
    [
      `get at least 10x faster than async-cache-dedupe, cache-manager and bentocache (at least ${slowestPeerRatio.toFixed(1)}x)`,
      slowestPeerRatio >= 10,
    ],
    [
      `exactly one load under the stampede (${stampedeLoads.get(chatdGet)})`,
      stampedeLoads.get(chatdGet) === 1,
    ],
  ];
  for (const [label, met] of checks) console.log(`${met ? 'met   ' : 'MISSED'} ${label}`);
}

await main();

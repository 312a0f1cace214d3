import { describe, expect, it } from 'vitest';
import { ConnectionGate } from '../../src/db/connection-gate.js';

/** A promise with its resolve and reject at hand. */
function pending<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise run its continuations. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ConnectionGate', () => {
  it('runs at most its permits at once, the rest in arrival order', async () => {
    const gate = new ConnectionGate(2);
    const works = [0, 1, 2, 3, 4].map(() => pending<number>());
    const started: number[] = [];
    const results = works.map((work, index) =>
      gate.run(() => {
        started.push(index);
        return work.promise;
      }),
    );
    await settle();
    expect(started).toEqual([0, 1]);
    expect([gate.running, gate.waiting]).toEqual([2, 3]);
    works[1]!.resolve(1);
    await settle();
    expect(started).toEqual([0, 1, 2]);
    works[0]!.resolve(0);
    works[2]!.resolve(2);
    await settle();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect([gate.running, gate.waiting]).toEqual([2, 0]);
    works[3]!.resolve(3);
    works[4]!.resolve(4);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });

  it('gives the permit back when the work fails, and passes the failure on', async () => {
    const gate = new ConnectionGate(1);
    const failing = gate.run(() => Promise.reject(new Error('boom')));
    const next = gate.run(async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
    expect(gate.running).toBe(0);
  });

  it('never admits more than its permits, even as permits pass from one work to the next', async () => {
    const gate = new ConnectionGate(3);
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 200 }, (_, index) =>
        gate.run(async () => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          for (let tick = 0; tick < index % 4; tick++) await settle();
          inFlight -= 1;
        }),
      ),
    );
    expect(most).toBe(3);
  });

  it('refuses a gate without a permit', () => {
    expect(() => new ConnectionGate(0)).toThrow(RangeError);
    expect(() => new ConnectionGate(1.5)).toThrow(RangeError);
  });
});

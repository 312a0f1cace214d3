/**
 * Admits at most `permits` units of work at a time, the rest in arrival order (first come, first
 * served). The store puts one in front of a pool that must never pipeline, with a permit per connection:
 * see {@link ConnectOptions.pipelining} in connection.ts.
 */
export class ConnectionGate {
  readonly #permits: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`a connection gate needs at least one permit, not ${permits}`);
    }
    this.#permits = permits;
  }

  /** Work admitted and not yet settled. */
  get running(): number {
    return this.#running;
  }

  /** Work waiting for a permit. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `work` once a permit is free; the permit is given back when it settles, however it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running < this.#permits) this.#running += 1;
    // The permit passes straight from the work that settles to the first in line (see #release).
    else await new Promise<void>((admit) => this.#waiting.push(admit));
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running -= 1;
  }
}

/**
 * Undo steps, run last in, first out. A step added after they ran runs at once: a process whose start was
 * still in flight when the run was stopped is stopped as soon as it is up.
 */
export class Cleanups {
  readonly #steps: Array<() => Promise<unknown>> = [];
  /** Steps added after run() started, running now. */
  readonly #late = new Set<Promise<unknown>>();
  #ran = false;

  /** Adds a step (run at once when {@link run} has already run). */
  push(step: () => Promise<unknown>): void {
    if (!this.#ran) {
      this.#steps.push(step);
      return;
    }
    const running = step().catch(() => {});
    this.#late.add(running);
    void running.finally(() => this.#late.delete(running));
  }

  /** Runs every step (and waits for late ones still running); safe to call again. */
  async run(): Promise<void> {
    this.#ran = true;
    for (const step of this.#steps.splice(0).reverse()) await step().catch(() => {});
    await Promise.all(this.#late);
  }
}

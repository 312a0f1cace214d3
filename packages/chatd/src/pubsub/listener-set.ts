import type { PubsubErrorContext, PubsubErrorHandler } from './error-reporter.js';

/**
 * Listeners of one event. Each `add` is a separate registration (adding a function twice calls it twice)
 * with its own remover; a listener that throws is reported and the others still run.
 */
export class ListenerSet<Args extends unknown[]> {
  readonly #listeners = new Set<{ readonly call: (...args: Args) => void }>();
  readonly #report: PubsubErrorHandler;
  readonly #context: PubsubErrorContext;

  constructor(report: PubsubErrorHandler, source: PubsubErrorContext['source']) {
    this.#report = report;
    this.#context = Object.freeze({ source });
  }

  /** Registers `listener`; the returned function removes this registration (idempotent). */
  add(listener: (...args: Args) => void): () => void {
    const entry = { call: listener };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Calls every listener registered now; one removed by an earlier listener of this emit is skipped. */
  emit(...args: Args): void {
    for (const entry of [...this.#listeners]) {
      if (!this.#listeners.has(entry)) continue;
      try {
        entry.call(...args);
      } catch (error) {
        this.#report(error, this.#context);
      }
    }
  }
}

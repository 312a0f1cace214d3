/**
 * Collects streamed text deltas and hands them on in batches: when `maxChars` have gathered, or
 * `intervalMs` after the first unsent delta. A long answer becomes a few events, not one per token.
 */
export class PartBatcher {
  #pending = '';
  #timer: NodeJS.Timeout | undefined;
  readonly #emit: (text: string) => void;
  readonly #intervalMs: number;
  readonly #maxChars: number;

  constructor(emit: (text: string) => void, options: { intervalMs: number; maxChars: number }) {
    this.#emit = emit;
    this.#intervalMs = options.intervalMs;
    this.#maxChars = options.maxChars;
  }

  push(delta: string): void {
    this.#pending += delta;
    if (this.#pending.length >= this.#maxChars) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), this.#intervalMs);
  }

  /** Emits what is pending now (call before the turn's final message so parts come first). */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.#emit(text);
  }

  /** Drops what is pending and stops the timer. */
  discard(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = '';
  }
}

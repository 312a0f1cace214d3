/** Options of a {@link PartBatcher}. */
export interface PartBatcherOptions {
  /** At most one batch per this many ms (besides batches cut at `maxChars`). */
  readonly intervalMs: number;
  /** A batch is cut as soon as this many characters have gathered. */
  readonly maxChars: number;
  /**
   * `true` (the default): a delta that arrives when nothing was emitted for a whole window leaves at once
   * (so the first token of an answer is not held), and the deltas after it gather for the window. `false`:
   * every batch waits `intervalMs` from its first delta (the wave-1 behaviour, kept for the benchmark).
   */
  readonly leadingEdge?: boolean;
}

/**
 * Collects streamed text deltas and hands them on in batches, so that a long answer becomes a few events,
 * not one per token: at most one batch per `intervalMs` window, or sooner when `maxChars` have gathered.
 * The first delta after a quiet window leaves at once (see {@link PartBatcherOptions.leadingEdge}): with
 * the tail of the answer taken into the turn's final publication ({@link take}), a turn publishes no more
 * batches than with trailing windows, and its first words are on screen a window sooner.
 */
export class PartBatcher {
  #pending = '';
  #timer: NodeJS.Timeout | undefined;
  readonly #emit: (text: string) => void;
  readonly #intervalMs: number;
  readonly #maxChars: number;
  readonly #leadingEdge: boolean;

  constructor(emit: (text: string) => void, options: PartBatcherOptions) {
    this.#emit = emit;
    this.#intervalMs = options.intervalMs;
    this.#maxChars = options.maxChars;
    this.#leadingEdge = options.leadingEdge ?? true;
  }

  push(delta: string): void {
    this.#pending += delta;
    if (this.#pending.length >= this.#maxChars) this.#emitPending();
    else if (this.#timer !== undefined) return;
    // Nothing left for a whole window: this delta leaves at once, and a window opens behind it.
    else if (this.#leadingEdge) this.#emitPending();
    else this.#timer = setTimeout(() => this.#windowEnded(), this.#intervalMs);
  }

  /** Emits what is pending now and stops the window. */
  flush(): void {
    const text = this.take();
    if (text !== '') this.#emit(text);
  }

  /**
   * Returns what is pending without emitting it, and stops the window: the caller publishes it itself,
   * together with the turn's final message (one notification for both).
   */
  take(): string {
    this.#stopWindow();
    const text = this.#pending;
    this.#pending = '';
    return text;
  }

  /** Drops what is pending and stops the window. */
  discard(): void {
    this.take();
  }

  #emitPending(): void {
    this.#stopWindow();
    const text = this.#pending;
    this.#pending = '';
    if (text !== '') this.#emit(text);
    // Leading edge: whatever arrives next waits for the end of this window.
    if (this.#leadingEdge) this.#timer = setTimeout(() => this.#windowEnded(), this.#intervalMs);
  }

  #windowEnded(): void {
    this.#timer = undefined;
    // Nothing gathered: the window closes, and the next delta leaves at once.
    if (this.#pending !== '') this.#emitPending();
  }

  #stopWindow(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

import type { StreamEvent } from './chatd-client.js';
import type { ReplicaPool } from './replica-pool.js';

/** How long a follower waits before reconnecting after its stream ended or failed. */
const RECONNECT_DELAY_MS = 250;

/**
 * Follows one chat's event stream across replica failures: when the stream ends or fails (its replica
 * died, PostgreSQL restarted), it reconnects to another live replica with `Last-Event-ID`, the id of the
 * last event it received, as a browser's EventSource would. Callers wait for a turn to end with
 * {@link changedSince}; the stream is a hint of when to look, the chat itself (GET) is the truth.
 */
export class FailoverFollower {
  /** The status of the last `status` event received ('' before the first). */
  status = '';
  /** Times the stream was reopened after it ended or failed. */
  reconnects = 0;
  /**
   * Counts the moments worth a look: a `status` event of a finished turn (`waiting`, `error`), or a
   * reconnect (events may have been missed while disconnected).
   */
  seq = 0;
  #lastEventId: string | undefined;
  readonly #controller = new AbortController();
  #wake: Array<() => void> = [];

  constructor(
    readonly pool: ReplicaPool,
    readonly token: string,
    readonly chatId: string,
    readonly onEvent?: (event: StreamEvent) => void,
  ) {
    void this.#run();
  }

  /**
   * Resolves once {@link seq} has passed `seq` (at once if it already has), or after `timeoutMs`,
   * whichever comes first; never rejects. Taking `seq` before an action and waiting on it after closes
   * the window in which an event that arrived meanwhile would be missed.
   */
  changedSince(seq: number, timeoutMs: number): Promise<void> {
    if (this.#controller.signal.aborted || this.seq > seq) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake.push(done);
    });
  }

  /** Closes the stream for good. */
  close(): void {
    this.#controller.abort();
    this.#notify();
  }

  #notify(): void {
    this.seq += 1;
    const wake = this.#wake;
    this.#wake = [];
    for (const resolve of wake) resolve();
  }

  async #run(): Promise<void> {
    const { signal } = this.#controller;
    let previous: string | undefined;
    while (!signal.aborted) {
      let client: ReturnType<ReplicaPool['client']> | undefined;
      try {
        client = this.pool.client(this.token, previous);
        const stream = client.stream(this.chatId, {
          signal,
          ...(this.#lastEventId === undefined ? {} : { lastEventId: this.#lastEventId }),
        });
        for await (const event of stream) {
          if (event.id !== undefined) this.#lastEventId = event.id;
          if (event.event === 'status') {
            this.status = (event.data as { status: string }).status;
            if (this.status === 'waiting' || this.status === 'error') this.#notify();
          }
          this.onEvent?.(event);
        }
      } catch {
        // Ended or failed: reconnect below, to another replica.
      }
      if (signal.aborted) break;
      previous = client?.baseUrl;
      this.reconnects += 1;
      this.#notify();
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS + Math.random() * 250));
    }
  }
}

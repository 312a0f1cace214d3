import { readServerSentEvents } from '@chatd/client';

/** One Server-Sent Event as a client parses it. */
export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: event data is inspected field by field
  readonly data: any;
}

/** A streaming SSE client over fetch: collects events and comments as they arrive. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  readonly response: Response;
  readonly #abort: AbortController;
  readonly #done: Promise<void>;
  #waiters = new Set<() => void>();
  #ended = false;

  private constructor(response: Response, abort: AbortController) {
    this.response = response;
    this.#abort = abort;
    this.#done = this.#read();
  }

  /**
   * Opens a stream; resolves once the response headers arrived (check `response.status`). Without a
   * token, `headers` carry the credential (a session cookie).
   */
  static async connect(
    url: string,
    token: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<SseClient> {
    const abort = new AbortController();
    const authorization: Record<string, string> =
      token === undefined ? {} : { authorization: `Bearer ${token}` };
    const response = await fetch(url, {
      headers: { ...authorization, accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    return new SseClient(response, abort);
  }

  /** Whether the server ended the stream. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Waits until `predicate` holds for the collected events (checked on each new one). */
  async waitFor(
    predicate: (events: readonly SseEvent[]) => boolean,
    what: string,
    timeoutMs = 5_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (this.#ended) throw new Error(`stream ended while waiting for ${what}; got ${this.describe()}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${what}; got ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The events of one type. */
  ofType(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  describe(): string {
    return JSON.stringify(this.events.map((e) => [e.event, e.id, e.data]));
  }

  /** Disconnects and waits for the reader to finish. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }

  /** Resolves when the server ends the stream. */
  ended$(): Promise<void> {
    return this.#done;
  }

  async #read(): Promise<void> {
    const body = this.response.body;
    if (!body) return;
    const reader = body.getReader();
    const onComment = (comment: string) => this.comments.push(comment);
    try {
      // One parser for every reader of chatd's streams: the client's.
      for await (const { event, data, id } of readServerSentEvents(reader, { onComment })) {
        this.events.push({ event, id, data: JSON.parse(data) });
        this.#wake();
      }
    } catch {
      // Aborted by close(), or the connection dropped.
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }
}

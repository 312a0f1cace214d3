import type { ServerResponse } from 'node:http';

/** Options of an {@link SseResponse}; durations in ms. */
export interface SseResponseOptions {
  /** How often a `: keepalive` comment is sent while nothing else is (proxies drop idle connections). */
  readonly heartbeatMs: number;
  /**
   * A client that lets more than this many bytes pile up unsent is too slow: the stream is ended, and the
   * client resumes with `Last-Event-ID` on reconnect instead of the server buffering without bound.
   */
  readonly maxBufferedBytes: number;
}

/**
 * Server-Sent Events on a raw Node response (after `reply.hijack()`): `event:`/`id:`/`data:` frames,
 * comments, a heartbeat, and one close notification whether the client left or the server ended it.
 */
export class SseResponse {
  readonly #response: ServerResponse;
  readonly #options: SseResponseOptions;
  readonly #closeListeners = new Set<() => void>();
  #heartbeat: NodeJS.Timeout | undefined;
  #opened = false;
  #closed = false;

  /** Listens for the connection closing at once, so a client that leaves before {@link open} is noticed. */
  constructor(response: ServerResponse, options: SseResponseOptions) {
    this.#response = response;
    this.#options = options;
    response.once('close', () => this.#markClosed());
    if (response.destroyed || response.writableEnded) this.#markClosed();
  }

  /** Whether the stream is over (client gone, or {@link close} called). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `listener` once when the stream is over (at once if it already is). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.add(listener);
  }

  /** Whether {@link open} sent the headers: until then, the response is not this stream's to end. */
  get opened(): boolean {
    return this.#opened;
  }

  /** Sends the status line and headers, and starts the heartbeat. */
  open(): void {
    if (this.#closed || this.#opened) return;
    this.#opened = true;
    this.#response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Tells nginx-style proxies not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    this.#response.flushHeaders();
    if (this.#options.heartbeatMs > 0) {
      this.#heartbeat = setInterval(() => this.comment('keepalive'), this.#options.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  /** Sends one event. `data` is JSON-encoded (one line: JSON escapes newlines). */
  send(event: string, data: unknown, id?: number): void {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.#write(`event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends a comment line, which clients ignore. */
  comment(text: string): void {
    this.#write(`: ${text}\n\n`);
  }

  /**
   * Ends the stream (idempotent); a client that has not read what was sent is disconnected, so that
   * nothing waits on it. Before {@link open}, only marks the stream closed: it will not open.
   */
  close(): void {
    if (this.#opened && !this.#response.writableEnded) {
      this.#response.end();
      if (this.#response.writableLength > 0) this.#response.destroy();
    }
    this.#markClosed();
  }

  #write(frame: string): void {
    if (this.#closed) return;
    this.#response.write(frame);
    if (this.#response.writableLength > this.#options.maxBufferedBytes) {
      // Ending would wait for the client to read what is buffered: drop the connection and the buffer.
      this.#response.destroy();
      this.#markClosed();
    }
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const listener of this.#closeListeners) listener();
    this.#closeListeners.clear();
  }
}

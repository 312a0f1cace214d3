import net from 'node:net';

/** What a {@link TcpProxy} does with connections. */
export type ProxyMode =
  /** Forward new connections to the target. */
  | 'forward'
  /** Reset every connection, existing and new (a server that went away). */
  | 'refuse'
  /** Stop forwarding on every connection, existing and new, without closing any (a network partition). */
  | 'blackhole';

/**
 * A TCP proxy in front of PostgreSQL, for the failures pg_terminate_backend cannot produce: a server that
 * refuses connections, and a connection that goes silent without FIN or RST. Counts connection attempts.
 */
export class TcpProxy {
  /** Connections the proxy has accepted, in any mode. */
  attempts = 0;
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  #mode: ProxyMode = 'forward';
  #resetOn?: { pattern: RegExp; remaining: number };
  /** Connections reset by {@link resetWhenClientSends}. */
  resetBySend = 0;

  private constructor(server: net.Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (client) => this.#accept(client));
  }

  /** Starts a proxy on 127.0.0.1 in front of the server of `targetUrl`. */
  static async start(targetUrl: string): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TcpProxy(server, { host: url.hostname, port: Number(url.port || 5432) });
  }

  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String((this.#server.address() as net.AddressInfo).port);
    return parsed.toString();
  }

  /** The proxy's own sockets that are still open (to tell them from the client's). */
  get openSockets(): number {
    let count = 0;
    for (const { client, upstream } of this.#pairs) {
      if (!client.destroyed) count++;
      if (upstream && !upstream.destroyed) count++;
    }
    return count;
  }

  /** Switches mode; 'refuse' resets and 'blackhole' freezes the existing connections too. */
  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    for (const pair of this.#pairs) {
      if (mode === 'refuse') this.#reset(pair);
      else if (mode === 'blackhole') this.#freeze(pair);
    }
  }

  /**
   * Holds back what the server sends on the existing connections (queries still reach it and run), until
   * {@link releaseResponses}: keeps a statement "in flight" for as long as a test needs.
   */
  holdResponses(): void {
    for (const { client, upstream } of this.#pairs) {
      upstream?.unpipe(client);
      upstream?.pause();
    }
  }

  /** Delivers what {@link holdResponses} held back, and forwards again. */
  releaseResponses(): void {
    for (const { client, upstream } of this.#pairs) upstream?.pipe(client);
  }

  /**
   * Resets (RST) the next `count` connections on which the client sends bytes matching `pattern`, right
   * after those bytes were handed to the upstream socket (the server may or may not get them): for the
   * client, a connection that dies in the middle of that statement.
   */
  resetWhenClientSends(pattern: RegExp, count = 1): void {
    this.#resetOn = { pattern, remaining: count };
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const pair of this.#pairs) this.#reset(pair);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.attempts++;
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    this.#pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => this.#reset(pair));
    if (this.#mode === 'refuse') {
      this.#reset(pair);
      return;
    }
    if (this.#mode === 'blackhole') {
      this.#freeze(pair);
      return;
    }
    const upstream = net.connect(this.#target.port, this.#target.host);
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => this.#reset(pair));
    client.pipe(upstream);
    upstream.pipe(client);
    // After pipe's own 'data' listener, so the matching bytes are queued upstream when the reset comes.
    client.on('data', (chunk: Buffer) => {
      const resetOn = this.#resetOn;
      if (!resetOn || resetOn.remaining <= 0 || !resetOn.pattern.test(chunk.toString('latin1'))) return;
      resetOn.remaining--;
      this.resetBySend++;
      this.#reset(pair);
    });
  }

  #freeze(pair: { client: net.Socket; upstream?: net.Socket }): void {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  }

  #reset(pair: { client: net.Socket; upstream?: net.Socket }): void {
    if (!this.#pairs.delete(pair)) return;
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (pair.upstream && !pair.upstream.destroyed) pair.upstream.destroy();
  }
}

import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, for tests of what a client does when the network fails:
 * `cut()` destroys every open connection (a dropped Wi-Fi, a proxy restart), `stall()` stops forwarding
 * on them without closing (a dead connection nothing reports). New connections always go through.
 */
export interface CuttableProxy {
  readonly url: string;
  /** The head (request line and headers) of every HTTP request seen, in order. */
  readonly requestHeads: readonly string[];
  /** Connections accepted so far. */
  readonly connections: number;
  cut(): void;
  stall(): void;
  close(): Promise<void>;
}

/** Starts a {@link CuttableProxy} to `target` (`http://host:port`). */
export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<{ client: Socket; upstream: Socket }>();
  const requestHeads: string[] = [];
  let connections = 0;
  const server: Server = createServer((client) => {
    connections += 1;
    const upstream = connect(Number(port), hostname);
    const pair = { client, upstream };
    open.add(pair);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text) && end > 0) requestHeads.push(text.slice(0, end));
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requestHeads,
    get connections() {
      return connections;
    },
    cut() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
    },
    stall() {
      for (const { client, upstream } of open) {
        upstream.unpipe(client);
        client.unpipe(upstream);
      }
      open.clear();
    },
    async close() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

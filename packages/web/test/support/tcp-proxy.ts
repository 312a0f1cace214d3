import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP proxy in front of a server, whose connections a test can cut. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: the server's URL through the proxy. */
  readonly url: string;
  /** Destroys every open connection, both sides (a network drop); new ones are accepted. */
  dropConnections(): number;
  close(): Promise<void>;
}

/**
 * Starts a TCP proxy on a free loopback port to `target` (an `http://host:port` URL). A browser that
 * loads the app through it keeps one origin, and {@link TcpProxy.dropConnections} cuts its open streams
 * the way a lost network does, which the browser's offline emulation alone does not (it only fails new
 * requests).
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    dropConnections() {
      const count = pairs.size;
      for (const [client, upstream] of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      return count;
    },
    close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { multiHostSocketFactory, QUICK_CLOSE_MS } from '../../src/db/multi-host-socket.js';

/** A TCP server that counts connections and either keeps them or closes them at once (a "read-only" host). */
async function server(
  behaviour: 'keep' | 'close',
): Promise<{ port: number; connections: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0, close: () => {} };
  const listener = net.createServer((socket) => {
    state.connections += 1;
    if (behaviour === 'close') socket.destroy();
    else sockets.add(socket);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  state.port = (listener.address() as net.AddressInfo).port;
  state.close = () => {
    for (const socket of sockets) socket.destroy();
    listener.close();
  };
  return state;
}

async function refusedPort(): Promise<number> {
  const probe = await server('keep');
  probe.close();
  return probe.port;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('multiHostSocketFactory', () => {
  it('skips a refusing host and one that closes during start-up, then sticks to the host that works', async () => {
    const closing = await server('close');
    const good = await server('keep');
    cleanups.push(closing.close, good.close);
    const factory = multiHostSocketFactory([
      { host: '127.0.0.1', port: await refusedPort() },
      { host: '127.0.0.1', port: closing.port },
      { host: '127.0.0.1', port: good.port },
    ]);
    const first = await factory();
    expect((first as net.Socket & { port?: number }).port).toBe(closing.port);
    await once(first, 'close');
    const second = await factory();
    expect((second as net.Socket & { port?: number }).port).toBe(good.port);
    cleanups.push(() => second.destroy());
    const third = await factory(); // a new connection of the pool: the host that works, first
    cleanups.push(() => third.destroy());
    expect((third as net.Socket & { port?: number }).port).toBe(good.port);
    expect(factory.recentFailures()).toContain('ECONNREFUSED');
  });

  it('waits between rounds while no host works, instead of reconnecting in a loop', async () => {
    const a = await server('close');
    const b = await server('close');
    cleanups.push(a.close, b.close);
    const factory = multiHostSocketFactory([
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ]);
    // What postgres.js does: ask for a new socket as soon as the last one closed during start-up.
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const socket = await factory();
        await once(socket, 'close');
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, QUICK_CLOSE_MS));
    stopped = true;
    await loop;
    // Without delays this is hundreds; with 50 ms doubling to 2 s per round of two hosts, about a dozen.
    expect(a.connections + b.connections).toBeLessThan(20);
    expect(a.connections).toBeGreaterThan(1);
    expect(factory.recentFailures()).toContain('closed during start-up');
  });
});

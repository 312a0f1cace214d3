import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { pino } from 'pino';
import { type Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/errors.js';
import {
  PayloadTooLargeError,
  PostgresPubsub,
  type PostgresPubsubOptions,
  PubsubClosedError,
  RECONNECTS_METRIC,
} from '../../src/pubsub/index.js';
import { useTestDatabase } from '../support/test-database.js';
import { errorRecorder, isSettled, recorder, utf8Payload, waitFor } from './helpers.js';
import { TcpProxy } from './tcp-proxy.js';

const db = useTestDatabase();

const opened: PostgresPubsub[] = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((pubsub) => pubsub.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** A pubsub with short timings and its own application_name, so a test can find its listener backend. */
async function connect(options: PostgresPubsubOptions = {}, url = db.database.url): Promise<PostgresPubsub> {
  const pubsub = await PostgresPubsub.connect(url, {
    listenerApplicationName: `chatd-pubsub-listener-${randomBytes(4).toString('hex')}`,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    connectTimeoutMs: 2_000,
    ...options,
  });
  opened.push(pubsub);
  return pubsub;
}

async function startProxy(): Promise<TcpProxy> {
  const proxy = await TcpProxy.start(db.database.url);
  proxies.push(proxy);
  return proxy;
}

/** The pids of the pubsub's listener backends (0 or 1 of them). */
async function listenerPids(pubsub: PostgresPubsub): Promise<number[]> {
  const rows = await db.sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity
    WHERE application_name = ${pubsub.options.listenerApplicationName} AND datname = current_database()`;
  return rows.map((row) => row.pid);
}

/** Kills the pubsub's listener backend, as an operator or a failover would. */
async function terminateListener(pubsub: PostgresPubsub): Promise<number> {
  const pids = await listenerPids(pubsub);
  expect(pids, 'the listener backend in pg_stat_activity').toHaveLength(1);
  const pid = pids[0]!;
  const [row] = await db.sql<{ terminated: boolean }[]>`SELECT pg_terminate_backend(${pid}) AS terminated`;
  expect(row?.terminated).toBe(true);
  return pid;
}

/** The last statement of the pubsub's listener backend, as pg_stat_activity shows it. */
async function lastStatement(pubsub: PostgresPubsub): Promise<string | undefined> {
  const [activity] = await db.sql<{ query: string }[]>`
    SELECT query FROM pg_stat_activity
    WHERE application_name = ${pubsub.options.listenerApplicationName} AND datname = current_database()`;
  return activity?.query;
}

async function reconnectCount(registry: Registry): Promise<number> {
  const metric = registry.getSingleMetric(RECONNECTS_METRIC) as Counter;
  return (await metric.get()).values[0]?.value ?? 0;
}

/** The TCP sockets and the timers of this process: what would keep it alive. */
function liveHandles(): { sockets: number; timers: number } {
  const kinds = process.getActiveResourcesInfo();
  return {
    sockets: kinds.filter((kind) => kind === 'TCPSocketWrap').length,
    timers: kinds.filter((kind) => kind === 'Timeout').length,
  };
}

describe('PostgresPubsub', () => {
  it('delivers between two instances on one database, and to the publisher itself', async () => {
    const a = await connect();
    const b = await connect();
    const gotA = recorder();
    const gotB = recorder();
    await a.subscribe('chan', gotA.handler);
    await b.subscribe('chan', gotB.handler);
    await a.publish('chan', 'from a');
    await b.publish('chan', 'from b');
    await waitFor(() => gotA.payloads.length === 2 && gotB.payloads.length === 2, 'both deliveries');
    expect(gotA.payloads).toEqual(['from a', 'from b']);
    expect(gotB.payloads).toEqual(['from a', 'from b']);
    expect(a.connected && b.connected).toBe(true);
  });

  it('delivers a NOTIFY sent by raw SQL, on channel names that need quoting', async () => {
    const pubsub = await connect();
    const channels = ['chat:config_change', 'We"ird Chan', 'ünïcode-😀'];
    const got = new Map(channels.map((channel) => [channel, recorder()]));
    for (const channel of channels) await pubsub.subscribe(channel, got.get(channel)!.handler);
    for (const channel of channels) await db.sql`SELECT pg_notify(${channel}, ${`x ${channel} ✓`})`;
    await waitFor(() => channels.every((c) => got.get(c)!.payloads.length === 1), 'a delivery per channel');
    for (const channel of channels) expect(got.get(channel)!.payloads).toEqual([`x ${channel} ✓`]);
  });

  it('delivers to several handlers, stops at unsubscribe, and UNLISTENs when the last handler goes', async () => {
    const pubsub = await connect({ heartbeatIntervalMs: 0 });
    const first = recorder();
    const second = recorder();
    const unsubscribeFirst = await pubsub.subscribe('multi', first.handler);
    const unsubscribeSecond = await pubsub.subscribe('multi', second.handler);
    await pubsub.publish('multi', '1');
    await waitFor(() => first.payloads.length === 1 && second.payloads.length === 1, 'both handlers');
    await unsubscribeFirst();
    await pubsub.publish('multi', '2');
    await waitFor(() => second.payloads.length === 2, 'the remaining handler');
    await unsubscribeSecond();
    await unsubscribeSecond();
    expect(await lastStatement(pubsub)).toBe('UNLISTEN "multi"');
    await pubsub.publish('multi', '3');
    const witness = recorder();
    await pubsub.subscribe('witness', witness.handler);
    await pubsub.publish('witness', 'after 3');
    await waitFor(() => witness.payloads.length === 1, 'the witness, published after 3');
    expect(first.payloads).toEqual(['1']);
    expect(second.payloads).toEqual(['1', '2']);
  });

  it('a subscribe() racing the UNLISTEN of its channel waits for the LISTEN that follows', async () => {
    const proxy = await startProxy();
    const pubsub = await connect({ heartbeatIntervalMs: 0 }, proxy.urlFor(db.database.url));
    const unsubscribeFirst = await pubsub.subscribe('race', () => {});
    proxy.holdResponses();
    const unlistening = unsubscribeFirst();
    await waitFor(async () => (await lastStatement(pubsub)) === 'UNLISTEN "race"', 'the UNLISTEN to run');
    // The server ran the UNLISTEN; its answer is held back, so it is still in flight for the pubsub.
    const second = recorder();
    const subscribing = pubsub.subscribe('race', second.handler);
    expect(await isSettled(subscribing), 'not active while its UNLISTEN is in flight').toBe(false);
    proxy.releaseResponses();
    await subscribing;
    expect(await lastStatement(pubsub)).toBe('LISTEN "race"');
    await unlistening;
    await db.sql`SELECT pg_notify('race', 'delivered')`;
    await waitFor(() => second.payloads.length === 1, 'delivery to the second subscriber');
  });

  it('reports a terminated listener at once, re-LISTENs, then resets, counts the reconnect and delivers again', async () => {
    const registry = new Registry();
    const logLines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
    const backoffMs = 300;
    const pubsub = await connect({
      registry,
      logger,
      reconnect: { initialDelayMs: backoffMs, jitter: 'none' },
    });
    const got = recorder();
    const other = recorder();
    await pubsub.subscribe('c', got.handler);
    await pubsub.subscribe('d', other.handler);
    const events: string[] = [];
    pubsub.onConnectionChange((connected) => {
      events.push(`connected=${connected}`);
      // connected = true also promises that every channel is LISTENed again.
      if (connected) db.sql`SELECT pg_notify('c', 'sent from the connection listener')`.catch(() => {});
    });
    pubsub.onReset(() => {
      events.push(`reset (connected=${pubsub.connected})`);
      // Published from another connection the moment reset fires: delivered only if 'c' is LISTENed already.
      // (.catch starts the lazy postgres.js query without awaiting it.)
      db.sql`SELECT pg_notify('c', 'sent from the reset listener')`.catch(() => {});
    });
    expect(await reconnectCount(registry)).toBe(0);

    const oldPid = await terminateListener(pubsub);
    await waitFor(() => !pubsub.connected, 'disconnected');
    // Reported before the reconnect attempt (which waits `backoffMs`), not when an attempt fails.
    expect(await listenerPids(pubsub), 'no new listener backend yet').toEqual([]);
    expect(events).toEqual(['connected=false']);

    await waitFor(() => events.length === 3, 'reconnect and reset');
    expect(events).toEqual(['connected=false', 'connected=true', 'reset (connected=true)']);
    expect(await reconnectCount(registry)).toBe(1);
    expect(await registry.metrics()).toContain(`${RECONNECTS_METRIC} 1`);
    const newPids = await listenerPids(pubsub);
    expect(newPids).toHaveLength(1);
    expect(newPids[0]).not.toBe(oldPid);

    await waitFor(() => got.payloads.length === 2, 'the notifications sent from the listeners');
    await pubsub.publish('c', 'after reset');
    await pubsub.publish('d', 'd after reset');
    await waitFor(() => got.payloads.length === 3 && other.payloads.length === 1, 'deliveries after reset');
    expect(got.payloads.slice(0, 2).sort()).toEqual([
      'sent from the connection listener',
      'sent from the reset listener',
    ]);
    expect(got.payloads[2]).toBe('after reset');
    expect(other.payloads).toEqual(['d after reset']);

    const messages = logLines.map((line) => JSON.parse(line) as { msg: string });
    expect(messages.map((m) => m.msg)).toEqual(
      expect.arrayContaining([
        'pubsub listener connected',
        'pubsub listener connection lost',
        'pubsub listener reconnected',
      ]),
    );
    const { password } = new URL(db.database.url);
    expect(password.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(password);
  });

  it('activates a subscribe() issued while disconnected once the listener is back', async () => {
    const pubsub = await connect({ reconnect: { initialDelayMs: 300, jitter: 'none' } });
    await pubsub.subscribe('existing', () => {});
    let resets = 0;
    pubsub.onReset(() => resets++);
    await terminateListener(pubsub);
    await waitFor(() => !pubsub.connected, 'disconnected');

    const late = recorder();
    const subscribing = pubsub.subscribe('late', late.handler);
    expect(await isSettled(subscribing), 'waits for the reconnect').toBe(false);
    const unsubscribe = await subscribing;
    expect(pubsub.connected).toBe(true);
    expect(resets).toBe(1);
    await db.sql`SELECT pg_notify('late', 'delivered')`;
    await waitFor(() => late.payloads.length === 1, 'delivery on the late channel');
    expect(late.payloads).toEqual(['delivered']);
    await unsubscribe();
  });

  it('enforces the PostgreSQL payload limit: 7999 bytes round-trip, 8000 are rejected before the server', async () => {
    const pubsub = await connect();
    // The server's own limit, checked on every run: NOTIFY payloads must be shorter than 8000 bytes.
    await db.sql`SELECT pg_notify('limit', ${'a'.repeat(7999)})`;
    await expect(db.sql`SELECT pg_notify('limit', ${'a'.repeat(8000)})`).rejects.toMatchObject({
      code: '22023',
      message: 'payload string too long',
    });
    await expect(db.sql`SELECT pg_notify('limit', ${utf8Payload(8000)})`).rejects.toMatchObject({
      code: '22023',
    });

    const got = recorder();
    await pubsub.subscribe('limit', got.handler);
    const largest = utf8Payload(7999);
    await pubsub.publish('limit', largest);
    await expect(pubsub.publish('limit', 'a'.repeat(8000))).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(pubsub.publish('limit', utf8Payload(8000))).rejects.toMatchObject({
      code: 'E_PUBSUB_PAYLOAD_TOO_LARGE',
      bytes: 8000,
    });
    await pubsub.publish('limit', 'last');
    await waitFor(() => got.payloads.length === 2, 'the two valid payloads');
    expect(got.payloads).toEqual([largest, 'last']);
  });

  it('keeps the listener when handlers throw, and reports the errors', async () => {
    const { errors, onError } = errorRecorder();
    const pubsub = await connect({ onError });
    const got = recorder();
    await pubsub.subscribe('boom', () => {
      throw new Error('sync boom');
    });
    await pubsub.subscribe('boom', async () => {
      throw new Error('async boom');
    });
    await pubsub.subscribe('boom', got.handler);
    const [pid] = await listenerPids(pubsub);
    let changes = 0;
    pubsub.onConnectionChange(() => changes++);

    await pubsub.publish('boom', '1');
    await pubsub.publish('boom', '2');
    await waitFor(() => got.payloads.length === 2 && errors.length === 4, 'deliveries and reports');
    expect(got.payloads).toEqual(['1', '2']);
    expect(errors.map((e) => e.context)).toEqual(Array(4).fill({ source: 'handler', channel: 'boom' }));
    // The same backend, never disconnected: a throwing handler did not break the connection.
    await pubsub.publish('boom', '3');
    await waitFor(() => got.payloads.length === 3, 'a later delivery');
    expect(await listenerPids(pubsub)).toEqual([pid]);
    expect(changes).toBe(0);
    expect(pubsub.connected).toBe(true);
  });

  it('detects a silently dead connection with the heartbeat, and recovers', async () => {
    const proxy = await startProxy();
    const pubsub = await connect(
      { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 },
      proxy.urlFor(db.database.url),
    );
    const got = recorder();
    await pubsub.subscribe('quiet', got.handler);
    let resets = 0;
    pubsub.onReset(() => resets++);

    proxy.setMode('blackhole');
    await waitFor(() => !pubsub.connected, 'disconnected by the heartbeat', { timeoutMs: 2_000 });
    proxy.setMode('forward');
    await waitFor(() => resets === 1 && pubsub.connected, 'reconnected', { timeoutMs: 3_000 });
    await db.sql`SELECT pg_notify('quiet', 'back')`;
    await waitFor(() => got.payloads.length === 1, 'delivery after recovery');
  });

  it('close() while reconnecting stops the attempts at once and leaves no socket or timer behind', async () => {
    const proxy = await startProxy();
    const url = proxy.urlFor(db.database.url);
    const baseline = liveHandles();
    // Injected jitter: three quick retries (20 ms), then a 10 s backoff that close() must cut short.
    let draws = 0;
    const random = () => (++draws <= 3 ? 0.002 : 0.999);
    const reconnect = { initialDelayMs: 10_000, maxDelayMs: 10_000, multiplier: 1, jitter: 'full' } as const;
    const pubsub = await connect({ reconnect, random }, url);
    await pubsub.subscribe('c', () => {});
    proxy.setMode('refuse');
    await waitFor(() => !pubsub.connected, 'disconnected');
    const attemptsBefore = proxy.attempts;
    await waitFor(() => proxy.attempts >= attemptsBefore + 3, 'three refused reconnect attempts');
    const waiting = pubsub.subscribe('during-close', () => {});

    const closing = performance.now();
    await pubsub.close();
    expect(performance.now() - closing, 'close() does not wait out the backoff').toBeLessThan(1_000);
    await expect(waiting).rejects.toBeInstanceOf(PubsubClosedError);
    const attemptsAtClose = proxy.attempts;
    // Nothing of the pubsub's stays alive: that is what lets the process exit.
    await waitFor(
      () => {
        const now = liveHandles();
        return now.sockets <= baseline.sockets && now.timers <= baseline.timers;
      },
      'only the sockets and timers of before the pubsub',
      { timeoutMs: 2_000 },
    );
    const stableUntil = performance.now() + 200;
    await waitFor(() => {
      expect(proxy.attempts, 'no attempt after close()').toBe(attemptsAtClose);
      return performance.now() >= stableUntil;
    }, '200 ms without an attempt');
    expect(pubsub.connected).toBe(false);
  });

  it('close() on a connection that went silent destroys its socket instead of waiting for the peer', async () => {
    const proxy = await startProxy();
    const baseline = liveHandles();
    const pubsub = await connect({ heartbeatIntervalMs: 0 }, proxy.urlFor(db.database.url));
    await pubsub.subscribe('c', () => {});
    proxy.setMode('blackhole');
    await pubsub.close();
    // A graceful end would leave the client socket half-closed until the (frozen) peer answers.
    await waitFor(
      () => liveHandles().sockets - proxy.openSockets <= baseline.sockets,
      'no socket of the pubsub left',
      {
        timeoutMs: 2_000,
      },
    );
  });

  it('close() is idempotent: it ends both connections, reports disconnected once and rejects later calls', async () => {
    const pubsub = await connect({ listenerApplicationName: undefined });
    expect(pubsub.options.listenerApplicationName).toBe('chatd-pubsub-listener');
    await pubsub.subscribe('c', () => {});
    await pubsub.publish('c', 'x');
    const connections = async () =>
      (
        await db.sql<{ applicationName: string }[]>`
          SELECT application_name FROM pg_stat_activity
          WHERE application_name LIKE 'chatd-pubsub-%' AND datname = current_database()
          ORDER BY application_name`
      ).map((row) => row.applicationName);
    expect(await connections()).toEqual(['chatd-pubsub-listener', 'chatd-pubsub-publisher']);
    const changes: boolean[] = [];
    pubsub.onConnectionChange((connected) => changes.push(connected));

    const first = pubsub.close();
    expect(pubsub.close()).toBe(first);
    await first;
    expect(changes).toEqual([false]);
    expect(pubsub.connected).toBe(false);
    await expect(pubsub.publish('c', 'x')).rejects.toMatchObject({ code: 'E_PUBSUB_CLOSED' });
    await expect(pubsub.subscribe('c', () => {})).rejects.toBeInstanceOf(PubsubClosedError);
    await waitFor(async () => (await connections()).length === 0, 'both backends to go');
  });

  it('connect() fails fast with a readable error, without the password, when the database is unreachable', async () => {
    // A port nobody listens on: take one, then free it.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const started = performance.now();
    const error = await PostgresPubsub.connect(`postgres://chatd:sekrit@127.0.0.1:${port}/chatd`, {
      connectTimeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    const { message } = error as Error;
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).not.toContain('sekrit');
  });
});

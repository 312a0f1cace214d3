/**
 * Host selection for a pool on a multi-host URL with `target_session_attrs`.
 *
 * postgres.js handles multi-host URLs itself, but while no host qualifies (the primary is down and the
 * standby not yet promoted) a query's connection retries host after host with no delay: measured, about
 * 50 authenticated connections a second per pool connection, until a host qualifies. (It swallows every
 * error of a multi-host connection attempt and retries, so the query waits for a qualifying host; that is
 * kept.) The pool gets postgres.js's `socket` option from {@link multiHostSocketFactory}, so that:
 * - a connection attempt dials the host that last worked, or the next one in URL order after a failure
 *   (postgres.js closes a connection to a host of the wrong kind during start-up, and asks for a new socket);
 * - an attempt that cannot connect, or whose socket closes within {@link QUICK_CLOSE_MS} (a host of the
 *   wrong kind), is a failure; after a round of as many failures as hosts, the next attempt waits a
 *   growing, jittered delay (50 ms doubling to 2 s) first. A connection that lives QUICK_CLOSE_MS ends the
 *   failures.
 */
import net from 'node:net';
import { describeHost, type PostgresHost, type ResolvedPostgresUrl } from './postgres-url.js';

/** A socket that closes sooner than this after connecting counts as a failed attempt. */
export const QUICK_CLOSE_MS = 1_000;
const INITIAL_DELAY_MS = 50;
const MAX_DELAY_MS = 2_000;

/** postgres.js's `socket` option, with the recent failures for error messages. */
export interface MultiHostSocketFactory {
  (): Promise<net.Socket>;
  /** The last failed attempts, one per host at most: `host:port: reason; ...` (empty when none). */
  recentFailures(): string;
}

/**
 * postgres.js's `socket` option over `hosts`: a connected socket, tagged with `host` and `port` (which
 * postgres.js reads for TLS and messages). Never rejects: postgres.js ignores a rejected attempt on a
 * multi-host URL (and would then never retry); it keeps trying, with the delays above.
 */
export function multiHostSocketFactory(hosts: readonly PostgresHost[]): MultiHostSocketFactory {
  let next = 0;
  let failures = 0; // consecutive failed attempts, across the pool's connections
  let rounds = 0; // consecutive failed rounds: the delay's exponent
  const reasons: string[] = [];
  const fail = (host: PostgresHost, reason: string) => {
    failures += 1;
    reasons.push(`${describeHost(host)}: ${reason}`);
    if (reasons.length > hosts.length) reasons.shift();
  };
  const factory = async (): Promise<net.Socket> => {
    for (;;) {
      if (failures >= hosts.length) {
        const delay = Math.min(MAX_DELAY_MS, INITIAL_DELAY_MS * 2 ** Math.min(rounds, 10));
        failures = 0;
        rounds += 1;
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
      }
      const index = next % hosts.length;
      const host = hosts[index]!;
      // Move past a host once it failed (unless a concurrent attempt already did); a host that works stays
      // `next`, so a new connection tries the current primary first.
      const skip = () => {
        if (next % hosts.length === index) next = index + 1;
      };
      const socket = net.connect(host.port, host.host);
      Object.assign(socket, { host: host.host, port: host.port });
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (error: Error) => {
            socket.off('connect', onConnect);
            reject(error);
          };
          const onConnect = () => {
            socket.off('error', onError);
            resolve();
          };
          socket.once('connect', onConnect);
          socket.once('error', onError);
        });
      } catch (error) {
        socket.destroy();
        skip();
        fail(host, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
        continue;
      }
      // A connection that lives QUICK_CLOSE_MS passed postgres.js's target_session_attrs check.
      let survived = false;
      const timer = setTimeout(() => {
        survived = true;
        failures = 0;
        rounds = 0;
        reasons.length = 0;
      }, QUICK_CLOSE_MS);
      timer.unref();
      socket.once('close', () => {
        if (survived) return;
        clearTimeout(timer);
        skip();
        fail(host, 'closed during start-up (a read-only server or a standby?)');
      });
      return socket;
    }
  };
  return Object.assign(factory, { recentFailures: () => reasons.join('; ') });
}

/**
 * What to give postgres.js for `resolved`: the URL, and for a multi-host TCP URL with
 * `target_session_attrs` the {@link multiHostSocketFactory} to pass as its `socket` option.
 */
export function poolConnectionTarget(resolved: ResolvedPostgresUrl): {
  readonly url: string;
  readonly socket: MultiHostSocketFactory | undefined;
} {
  const { hosts, targetSessionAttrs } = resolved;
  if (hosts.length < 2 || !targetSessionAttrs || hosts.some((host) => host.host.startsWith('/'))) {
    return { url: resolved.url, socket: undefined };
  }
  // The URL keeps every host: postgres.js retries a failed start-up only on a multi-host URL.
  return { url: resolved.url, socket: multiHostSocketFactory(hosts) };
}

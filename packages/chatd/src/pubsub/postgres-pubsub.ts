/**
 * PostgreSQL LISTEN/NOTIFY pubsub.
 *
 * Design: our own reconnect loop over one postgres.js client per connection, not postgres.js's
 * `sql.listen()`. In postgres.js 3.4, `sql.listen()` re-LISTENs after a drop on postgres.js's own retry
 * schedule (a failed re-LISTEN is swallowed), gives no signal when the connection drops (`onlisten` only
 * fires after each channel's re-LISTEN, one channel at a time, so there is no "every channel is back"
 * moment for a reset), and calls handlers inside its protocol parser, where an exception fails whatever
 * query is in flight. Building the contract of {@link Pubsub} on top of that would be harder to prove
 * than the loop below.
 *
 * The loop ({@link PostgresPubsub.#run}) is the only code that talks to the listener connection:
 *   open a session (one postgres.js client, one backend; see ListenerSession) → LISTEN every subscribed
 *   channel → connected = true → after a loss: count the reconnect, fire reset → serve: LISTEN/UNLISTEN as
 *   subscriptions change, heartbeat → the session is lost (reported at once by its onLost) → sleep a
 *   capped, jittered backoff → open a new session. Forever, until close().
 * One loop issuing every LISTEN/UNLISTEN, one query at a time, leaves no interleaving to reason about:
 * subscribe() and unsubscribe() change only the desired state (the SubscriptionRegistry), ring the loop's
 * doorbell and wait for a predicate on the actual state (the session's `listened` set, `connected`).
 *
 * Races and ordering:
 * - Loss is reported at once: postgres.js calls `onclose` synchronously from the socket's close event and
 *   the session sets connected = false from there, before the loop sees its query fail. A connection
 *   that dies silently (half-open TCP) is caught by the heartbeat.
 * - subscribe() while disconnected or reconnecting: the handler is registered at once; the next session
 *   LISTENs its channel together with the others before connected = true, and subscribe() resolves then.
 * - Subscriptions that change while a LISTEN batch is in flight are marked pending; after each batch the
 *   loop runs the pending changes, until there are none, so the latest desired state always wins. A
 *   subscribe() to a channel whose UNLISTEN is in flight waits for the LISTEN that follows it (a channel
 *   in flight never counts as listened).
 * - reset fires after connected = true and after every channel subscribed at that moment is LISTENed: a
 *   consumer that re-reads its source of truth in the reset listener misses nothing committed later.
 * - unsubscribe() removes the handler synchronously (no delivery after the call), then waits for the
 *   UNLISTEN unless other handlers still use the channel.
 * - close() during backoff aborts the sleep; during a connect or a query it abandons the session (its
 *   sockets are destroyed). The loop ends, no new attempt starts, and no timer or socket of ours keeps
 *   the process alive.
 */
import postgres from 'postgres';
import type { Counter } from 'prom-client';
import { describeUrl } from '../db/connection.js';
import { poolConnectionTarget } from '../db/multi-host-socket.js';
import {
  describeHost,
  explainTlsError,
  listenerUrlFor,
  type ResolvedPostgresUrl,
  resolvePostgresUrl,
} from '../db/postgres-url.js';
import { ChatdError, DatabaseUnavailableError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { backoffDelay } from './backoff.js';
import { createErrorReporter } from './error-reporter.js';
import { PubsubClosedError } from './errors.js';
import { assertValidChannel, assertValidPayload } from './limits.js';
import { ListenerSession, SessionLostError } from './listener-session.js';
import { ListenerSet } from './listener-set.js';
import {
  type PostgresPubsubOptions,
  type ResolvedPostgresPubsubOptions,
  resolvePostgresPubsubOptions,
} from './postgres-pubsub-options.js';
import type { NotificationHandler, Pubsub, Unsubscribe } from './pubsub.js';
import { notificationsSentCounter, reconnectsCounter } from './pubsub-metrics.js';
import { type Deferred, Doorbell, deferred, firstOf, sleep } from './signals.js';
import { type Subscription, SubscriptionRegistry } from './subscriptions.js';

/** A caller waiting until the actual state satisfies `done` (checked after every state change). */
interface Waiter {
  readonly done: () => boolean;
  readonly resolve: () => void;
  /** What close() does to the waiter: subscribe() rejects, unsubscribe() resolves. */
  readonly onClose: () => void;
}

/**
 * {@link Pubsub} over PostgreSQL LISTEN/NOTIFY, with a dedicated listener connection (application_name
 * `chatd-pubsub-listener` by default) that reconnects forever, and a one-connection publisher (so the
 * publishes of one instance reach the server, and every listener, in call order).
 * Create it with {@link PostgresPubsub.connect}.
 */
export class PostgresPubsub implements Pubsub {
  /** The options, parsed once. */
  readonly options: ResolvedPostgresPubsubOptions;
  readonly #url: ResolvedPostgresUrl;
  readonly #log: Logger | undefined;
  readonly #subscriptions: SubscriptionRegistry;
  readonly #resets: ListenerSet<[]>;
  readonly #connectionChanges: ListenerSet<[boolean]>;
  readonly #reconnects: Counter;
  readonly #notificationsSent: Counter<'channel'>;
  readonly #publisher: postgres.Sql;
  readonly #doorbell = new Doorbell();
  readonly #closing = new AbortController();
  readonly #waiters = new Set<Waiter>();
  readonly #started = deferred<void>();
  readonly #loop: Promise<void>;
  /** Channels whose subscriptions changed since the loop last compared them with the session's LISTENs. */
  #pending = new Set<string>();
  #session: ListenerSession | undefined;
  #connected = false;
  #closePromise: Promise<void> | undefined;

  private constructor(url: string, options: ResolvedPostgresPubsubOptions) {
    this.options = options;
    this.#url = resolvePostgresUrl(url);
    // Bindings (such as a component name) are the caller's choice: chatd-server adds { component: 'pubsub' }.
    this.#log = options.logger;
    const report = createErrorReporter(options);
    this.#subscriptions = new SubscriptionRegistry(report);
    this.#resets = new ListenerSet(report, 'reset-listener');
    this.#connectionChanges = new ListenerSet(report, 'connection-listener');
    this.#reconnects = reconnectsCounter(options.registry);
    this.#notificationsSent = notificationsSentCounter(options.registry);
    // The publisher follows target_session_attrs as the pools do (see multi-host-socket.ts).
    const target = poolConnectionTarget(this.#url);
    this.#publisher = postgres(target.url, {
      ssl: this.#url.ssl,
      ...(target.socket ? ({ socket: target.socket } as object) : {}),
      max: 1,
      idle_timeout: 60,
      connect_timeout: options.connectTimeoutMs / 1000,
      fetch_types: false,
      prepare: options.preparedStatements,
      onnotice: () => {},
      connection: { application_name: options.publisherApplicationName },
    });
    this.#loop = this.#run(this.#started).catch((error: unknown) => {
      // Not expected (#run handles connection errors itself); never leave it an unhandled rejection.
      this.#log?.error({ err: error }, 'pubsub listener loop failed; notifications stopped');
      this.#setConnected(false);
      this.#started.reject(error);
    });
  }

  /**
   * Connects the listener and resolves once it is up. Fails fast with a {@link DatabaseUnavailableError}
   * (whose message names the server, never the password) when the first connection attempt fails; from
   * then on, connection losses are retried forever. Throws RangeError for invalid options.
   */
  static async connect(url: string, options: PostgresPubsubOptions = {}): Promise<PostgresPubsub> {
    const resolved = resolvePostgresPubsubOptions(options);
    let pubsub: PostgresPubsub;
    try {
      pubsub = new PostgresPubsub(url, resolved);
    } catch (error) {
      throw unavailable(url, error);
    }
    try {
      await pubsub.#started.promise;
    } catch (error) {
      await pubsub.close();
      throw unavailable(url, error);
    }
    return pubsub;
  }

  /** {@inheritDoc Pubsub.connected} */
  get connected(): boolean {
    return this.#connected;
  }

  /** {@inheritDoc Pubsub.publish} */
  async publish(channel: string, payload: string): Promise<void> {
    this.#assertOpen();
    assertValidChannel(channel);
    assertValidPayload(channel, payload);
    await this.#publisher`SELECT pg_notify(${channel}, ${payload})`;
    this.#notificationsSent.inc({ channel });
  }

  /** {@inheritDoc Pubsub.subscribe} */
  async subscribe(channel: string, handler: NotificationHandler): Promise<Unsubscribe> {
    this.#assertOpen();
    assertValidChannel(channel);
    const subscription = this.#subscriptions.add(channel, handler);
    this.#changed(channel);
    try {
      await this.#waitUntil(() => this.#isListening(channel), 'reject');
    } catch (error) {
      this.#remove(subscription);
      throw error;
    }
    let unsubscribed: Promise<void> | undefined;
    return () => {
      unsubscribed ??= this.#unsubscribe(subscription);
      return unsubscribed;
    };
  }

  /** {@inheritDoc Pubsub.onReset} */
  onReset(listener: () => void): () => void {
    return this.#resets.add(listener);
  }

  /** {@inheritDoc Pubsub.onConnectionChange} */
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.#connectionChanges.add(listener);
  }

  /** {@inheritDoc Pubsub.close} */
  close(): Promise<void> {
    this.#closePromise ??= this.#shutdown();
    return this.#closePromise;
  }

  async #shutdown(): Promise<void> {
    // Abort first: everything below checks #isClosed, and the loop's backoff sleep ends at once.
    this.#closing.abort();
    this.#doorbell.ring();
    this.#session?.abandon('the pubsub was closed');
    this.#settleWaiters();
    await this.#loop;
    this.#subscriptions.clear();
    await this.#publisher.end({ timeout: 1 }).catch(() => {});
    this.#setConnected(false);
  }

  get #isClosed(): boolean {
    return this.#closing.signal.aborted;
  }

  /** The listener loop: see the comment at the top of this file. Never rejects on connection errors. */
  async #run(started: Deferred<void>): Promise<void> {
    let failures = 0; // consecutive failed rounds: the backoff exponent
    let everConnected = false;
    // Multi-host URL: each session dials one host. A lost session retries its host first (a blip); a failed
    // attempt moves to the next host at once, and the loop backs off only after a round where every host
    // failed, so a failover costs one failed attempt per dead or read-only host, not a backoff each.
    const hosts = this.#url.hosts;
    let hostIndex = 0;
    let roundFailures: string[] = [];
    while (!this.#isClosed) {
      const host = hosts[hostIndex % hosts.length]!;
      const session = new ListenerSession(listenerUrlFor(this.#url, host), {
        ssl: this.#url.ssl,
        targetSessionAttrs: this.#url.targetSessionAttrs,
        applicationName: this.options.listenerApplicationName,
        onNotification: (channel, payload) => this.#subscriptions.dispatch(channel, payload),
        onLost: (lost, reason) => this.#onSessionLost(lost, reason),
      });
      this.#session = session;
      let established = false;
      try {
        await this.#establish(session);
        // Checked synchronously with setting connected: a loss from here on goes through #onSessionLost.
        if (session.isLost) throw new SessionLostError();
        established = true;
        failures = 0;
        roundFailures = [];
        this.#setConnected(true);
        this.#settleWaiters();
        if (everConnected) {
          this.#reconnects.inc();
          this.#log?.info(
            { pid: session.pid, channels: session.listened.size },
            'pubsub listener reconnected',
          );
          // A connection listener may have closed the pubsub (which abandons the session): no reset then.
          if (!session.isLost) this.#resets.emit();
        } else {
          everConnected = true;
          this.#log?.info({ pid: session.pid }, 'pubsub listener connected');
          started.resolve();
        }
        await this.#serve(session);
      } catch (error) {
        if (!established) {
          hostIndex = (hostIndex + 1) % hosts.length;
          roundFailures.push(
            hosts.length > 1 ? `${describeHost(host)}: ${describeError(error)}` : describeError(error),
          );
        }
        const roundOver = established || roundFailures.length >= hosts.length;
        if (!everConnected && roundOver) {
          session.abandon('the first connection attempt failed');
          started.reject(hosts.length > 1 ? new Error(roundFailures.join('; '), { cause: error }) : error);
          return;
        }
        if (!roundOver) {
          session.abandon(describeError(error));
          if (everConnected) {
            this.#log?.warn(
              { err: describeError(error), host: describeHost(host) },
              'pubsub listener: host skipped',
            );
          }
          continue;
        }
        roundFailures = [];
        // A loss was reported by #onSessionLost when it happened; this reports any other error (no-op if lost).
        session.abandon(describeError(error));
        if (!this.#isClosed && !established) {
          this.#log?.warn(
            { err: describeError(error), attempt: failures + 1 },
            'pubsub listener reconnect failed',
          );
        }
      }
      session.abandon('the listener loop left the session');
      if (this.#isClosed) return;
      const delayMs = backoffDelay(this.options.reconnect, failures, this.options.random);
      failures += 1;
      this.#log?.debug({ delayMs: Math.round(delayMs), attempt: failures }, 'pubsub listener reconnecting');
      await sleep(delayMs, this.#closing.signal);
    }
    // Closed in the middle of the first round of hosts: connect() must not wait forever (no-op otherwise).
    if (!everConnected) started.reject(new PubsubClosedError());
  }

  /**
   * Connects and LISTENs every subscribed channel, within `connectTimeoutMs` (postgres.js's own
   * connect_timeout does not cover a server that accepts and then hangs, nor the LISTENs).
   */
  async #establish(session: ListenerSession): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      session.abandon(`connecting took more than ${timeoutMs} ms`);
    }, timeoutMs);
    try {
      await session.open();
      for (const channel of this.#subscriptions.channels()) this.#pending.add(channel);
      await this.#sync(session);
    } catch (error) {
      if (timedOut)
        throw new Error(`connecting and listening took more than ${timeoutMs} ms`, { cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keeps the session's LISTENs in line with the subscriptions, and heartbeats, until the session is lost. */
  async #serve(session: ListenerSession): Promise<void> {
    const intervalMs = this.options.heartbeatIntervalMs;
    let nextHeartbeatAt = performance.now() + intervalMs;
    while (!this.#isClosed && !session.isLost) {
      await this.#sync(session);
      this.#settleWaiters();
      const untilHeartbeat = intervalMs > 0 ? Math.max(0, nextHeartbeatAt - performance.now()) : undefined;
      // The doorbell is the only wake-up source: subscription changes, the loss of the session and close()
      // all ring it. (Racing a long-lived "lost" promise instead would add a reaction to it per wake-up.)
      const outcome = await firstOf([this.#doorbell.wait()], untilHeartbeat);
      if (outcome === 'timeout') {
        await this.#heartbeat(session);
        nextHeartbeatAt = performance.now() + intervalMs;
      }
    }
  }

  /** Runs the pending LISTEN/UNLISTEN changes in batches until none is left. */
  async #sync(session: ListenerSession): Promise<void> {
    while (this.#pending.size > 0) {
      const candidates = this.#pending;
      this.#pending = new Set();
      const listen: string[] = [];
      const unlisten: string[] = [];
      for (const channel of candidates) {
        const wanted = this.#subscriptions.has(channel);
        if (wanted && !session.listened.has(channel)) listen.push(channel);
        else if (!wanted && session.listened.has(channel)) unlisten.push(channel);
      }
      // On failure the session is lost, and the next one starts from every subscribed channel.
      await session.apply(listen, unlisten);
      if (listen.length > 0 || unlisten.length > 0) {
        this.#log?.debug({ listen, unlisten }, 'pubsub listener channels updated');
      }
    }
  }

  async #heartbeat(session: ListenerSession): Promise<void> {
    const timeoutMs = this.options.heartbeatTimeoutMs;
    const answered = session.ping().then(() => undefined);
    // Losing the session rejects the ping in flight (postgres.js fails queries on close): `answered` settles.
    const outcome = await firstOf([answered.catch(() => undefined)], timeoutMs);
    if (outcome === 'timeout') {
      session.abandon(`heartbeat: no answer within ${timeoutMs} ms`);
      throw new SessionLostError();
    }
    await answered;
  }

  /** Called once per session, synchronously from the socket's close event, a timeout, or close(). */
  #onSessionLost(session: ListenerSession, reason: string): void {
    if (session !== this.#session) return;
    this.#doorbell.ring();
    if (this.#connected && !this.#isClosed) {
      this.#log?.warn({ pid: session.pid, reason }, 'pubsub listener connection lost');
    }
    this.#setConnected(false);
    this.#settleWaiters();
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    this.#connectionChanges.emit(connected);
  }

  #isListening(channel: string): boolean {
    const session = this.#session;
    return (
      this.#connected &&
      session !== undefined &&
      !session.isLost &&
      session.listened.has(channel) &&
      !session.inFlight.has(channel)
    );
  }

  async #unsubscribe(subscription: Subscription): Promise<void> {
    const { channel } = subscription;
    if (!this.#remove(subscription) || this.#isClosed) return;
    // Done once the channel is UNLISTENed, resubscribed, or the connection (and its LISTENs) is gone.
    await this.#waitUntil(
      () => !this.#connected || this.#subscriptions.has(channel) || !this.#session?.listened.has(channel),
      'resolve',
    );
  }

  /** Removes a subscription; true (and the loop told) when it was its channel's last. */
  #remove(subscription: Subscription): boolean {
    if (!this.#subscriptions.remove(subscription)) return false;
    this.#changed(subscription.channel);
    return true;
  }

  #changed(channel: string): void {
    this.#pending.add(channel);
    this.#doorbell.ring();
  }

  #waitUntil(done: () => boolean, onClose: 'resolve' | 'reject'): Promise<void> {
    if (this.#isClosed) {
      return onClose === 'resolve' ? Promise.resolve() : Promise.reject(closedBeforeActive());
    }
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.add({
        done,
        resolve,
        onClose: onClose === 'resolve' ? resolve : () => reject(closedBeforeActive()),
      });
    });
  }

  /** Settles the waiters whose condition now holds (all of them once closed). */
  #settleWaiters(): void {
    for (const waiter of this.#waiters) {
      if (this.#isClosed) waiter.onClose();
      else if (waiter.done()) waiter.resolve();
      else continue;
      this.#waiters.delete(waiter);
    }
  }

  #assertOpen(): void {
    if (this.#isClosed) throw new PubsubClosedError();
  }
}

function closedBeforeActive(): PubsubClosedError {
  return new PubsubClosedError('pubsub was closed before the subscription became active');
}

/** A connect failure as a DatabaseUnavailableError; chatd's own errors (an invalid URL) pass through. */
function unavailable(url: string, error: unknown): ChatdError {
  if (error instanceof ChatdError) return error;
  return new DatabaseUnavailableError(
    `cannot LISTEN on PostgreSQL at ${describeUrl(url)}: ${explainTls(url, error) ?? describeError(error)}`,
    { cause: error },
  );
}

/** A TLS failure in words (mode, CA file), or undefined; a multi-host failure explains its last host's. */
function explainTls(url: string, error: unknown): string | undefined {
  try {
    const resolved = resolvePostgresUrl(url);
    const reason = explainTlsError(error, resolved);
    if (reason || !(error instanceof Error)) return reason;
    const causeReason = explainTlsError(error.cause, resolved);
    return causeReason && `${error.message} (${causeReason})`;
  } catch {
    return undefined;
  }
}

/** An error's message, with its cause's (postgres.js and Node errors name the host, never the password). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

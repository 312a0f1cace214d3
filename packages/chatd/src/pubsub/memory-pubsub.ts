import { createErrorReporter, type PubsubCommonOptions } from './error-reporter.js';
import { PubsubClosedError } from './errors.js';
import { assertValidChannel, assertValidPayload } from './limits.js';
import { ListenerSet } from './listener-set.js';
import type { NotificationHandler, Pubsub, Unsubscribe } from './pubsub.js';
import { SubscriptionRegistry } from './subscriptions.js';

/** Options of a {@link MemoryPubsub}. */
export type MemoryPubsubOptions = PubsubCommonOptions;

/**
 * An in-process {@link Pubsub} for a single process and for unit tests, with PostgreSQL's semantics:
 * the same channel and payload limits, asynchronous delivery (each publish is delivered in a later
 * macrotask, in publish order, to the handlers subscribed when it was published and still subscribed at
 * delivery), and a "connection" that tests can drop and restore with {@link simulateDisconnect} and
 * {@link simulateReconnect}.
 *
 * While simulated-disconnected, publishes succeed but reach nobody (the gap a real outage causes), and
 * subscribe() waits for the reconnect, like the PostgreSQL implementation.
 */
export class MemoryPubsub implements Pubsub {
  readonly #subscriptions: SubscriptionRegistry;
  readonly #resets: ListenerSet<[]>;
  readonly #connectionChanges: ListenerSet<[boolean]>;
  /** subscribe() calls waiting for the simulated connection to come back. */
  readonly #waitingForConnection = new Set<{ resolve(): void; reject(error: Error): void }>();
  #connected = true;
  #closed = false;
  readonly #closePromise = Promise.resolve();
  /**
   * Bumped on every simulated disconnect: deliveries scheduled before it are dropped (the notifications
   * that were in flight when the connection went).
   */
  #epoch = 0;

  constructor(options: MemoryPubsubOptions = {}) {
    const report = createErrorReporter(options);
    this.#subscriptions = new SubscriptionRegistry(report);
    this.#resets = new ListenerSet(report, 'reset-listener');
    this.#connectionChanges = new ListenerSet(report, 'connection-listener');
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
    if (!this.#connected) return;
    // Recipients are fixed now, like LISTEN must precede NOTIFY; setImmediate keeps publish order.
    const recipients = this.#subscriptions.snapshot(channel);
    const epoch = this.#epoch;
    setImmediate(() => {
      if (this.#closed || epoch !== this.#epoch) return;
      this.#subscriptions.deliver(recipients, payload);
    });
  }

  /** {@inheritDoc Pubsub.subscribe} */
  async subscribe(channel: string, handler: NotificationHandler): Promise<Unsubscribe> {
    this.#assertOpen();
    assertValidChannel(channel);
    const subscription = this.#subscriptions.add(channel, handler);
    if (!this.#connected) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.#waitingForConnection.add({ resolve, reject });
        });
      } catch (error) {
        this.#subscriptions.remove(subscription);
        throw error;
      }
    }
    return async () => {
      this.#subscriptions.remove(subscription);
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

  /**
   * Test hook: the connection drops. Emits `onConnectionChange(false)` synchronously; notifications not yet
   * delivered are lost, and publishes reach nobody until {@link simulateReconnect}. No-op when already
   * disconnected.
   */
  simulateDisconnect(): void {
    this.#assertOpen();
    if (!this.#connected) return;
    this.#connected = false;
    this.#epoch++;
    this.#connectionChanges.emit(false);
  }

  /**
   * Test hook: a reconnect, as after a network blip. Emits, synchronously and in this order,
   * `onConnectionChange(false)` (unless already disconnected), `onConnectionChange(true)`, then the reset
   * listeners; subscribe() calls made while disconnected resolve.
   */
  simulateReconnect(): void {
    this.simulateDisconnect();
    this.#connected = true;
    for (const waiter of this.#waitingForConnection) waiter.resolve();
    this.#waitingForConnection.clear();
    this.#connectionChanges.emit(true);
    this.#resets.emit();
  }

  /** Test hook: resolves once every notification published before the call has been delivered. */
  flush(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** {@inheritDoc Pubsub.close} */
  close(): Promise<void> {
    if (!this.#closed) this.#shutdown();
    return this.#closePromise;
  }

  #shutdown(): void {
    this.#closed = true;
    const error = new PubsubClosedError('pubsub was closed before the subscription became active');
    for (const waiter of this.#waitingForConnection) waiter.reject(error);
    this.#waitingForConnection.clear();
    this.#subscriptions.clear();
    if (this.#connected) {
      this.#connected = false;
      this.#connectionChanges.emit(false);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new PubsubClosedError();
  }
}

import type { PubsubErrorHandler } from './error-reporter.js';
import type { NotificationHandler } from './pubsub.js';

/** One `subscribe` call: its own identity, so the same handler subscribed twice is two subscriptions. */
export interface Subscription {
  readonly channel: string;
  readonly handler: NotificationHandler;
}

/**
 * The handlers of every channel: the desired state that a pubsub keeps its LISTENs in line with.
 * Dispatch isolates handlers from each other: a throwing handler (or an async one that rejects) is
 * reported, and the remaining handlers still run.
 */
export class SubscriptionRegistry {
  readonly #byChannel = new Map<string, Set<Subscription>>();
  readonly #report: PubsubErrorHandler;

  constructor(report: PubsubErrorHandler) {
    this.#report = report;
  }

  /** Adds a subscription of `handler` to `channel`. */
  add(channel: string, handler: NotificationHandler): Subscription {
    const subscription = Object.freeze({ channel, handler });
    let set = this.#byChannel.get(channel);
    if (!set) {
      set = new Set();
      this.#byChannel.set(channel, set);
    }
    set.add(subscription);
    return subscription;
  }

  /** Removes `subscription`; true when it was the last one of its channel (so the channel can be UNLISTENed). */
  remove(subscription: Subscription): boolean {
    const set = this.#byChannel.get(subscription.channel);
    if (!set?.delete(subscription)) return false;
    if (set.size > 0) return false;
    this.#byChannel.delete(subscription.channel);
    return true;
  }

  /** Whether `channel` has at least one subscription. */
  has(channel: string): boolean {
    return this.#byChannel.has(channel);
  }

  /** Whether `subscription` is still registered. */
  isActive(subscription: Subscription): boolean {
    return this.#byChannel.get(subscription.channel)?.has(subscription) ?? false;
  }

  /** The channels that have subscriptions, in subscription order. */
  channels(): string[] {
    return [...this.#byChannel.keys()];
  }

  /** The current subscriptions of `channel` (a copy). */
  snapshot(channel: string): readonly Subscription[] {
    const set = this.#byChannel.get(channel);
    return set ? [...set] : [];
  }

  /** Delivers `payload` to every current subscription of `channel`. */
  dispatch(channel: string, payload: string): void {
    this.deliver(this.snapshot(channel), payload);
  }

  /**
   * Delivers `payload` to those of `subscriptions` that are still registered when their turn comes: a
   * handler that unsubscribes another during the same delivery stops it from being called.
   */
  deliver(subscriptions: readonly Subscription[], payload: string): void {
    for (const subscription of subscriptions) {
      if (!this.isActive(subscription)) continue;
      try {
        const result: unknown = subscription.handler(payload);
        if (isThenable(result)) {
          result.then(undefined, (error: unknown) => this.#reportHandlerError(error, subscription));
        }
      } catch (error) {
        this.#reportHandlerError(error, subscription);
      }
    }
  }

  /** Drops every subscription. */
  clear(): void {
    this.#byChannel.clear();
  }

  #reportHandlerError(error: unknown, subscription: Subscription): void {
    this.#report(error, { source: 'handler', channel: subscription.channel });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

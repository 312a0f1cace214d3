/**
 * Receives the payload of one notification. Runs synchronously on delivery; an exception (or a rejected
 * promise, if the handler is async) is reported through the pubsub's `onError` option and affects neither
 * the other handlers nor the connection.
 */
export type NotificationHandler = (payload: string) => void;

/** Removes one subscription. Idempotent; resolves once the channel is no longer listened to if it was the last. */
export type Unsubscribe = () => Promise<void>;

/**
 * Publish/subscribe between chatd replicas (PostgreSQL LISTEN/NOTIFY, or in-process for tests).
 *
 * Delivery is at most once and asynchronous: a notification reaches the handlers that were subscribed
 * when it was published, in publish order per publisher, unless the connection had a gap, which
 * {@link onReset} reports afterwards. Consumers that must not miss anything re-read their source of truth
 * on reset, and stop trusting derived state while {@link connected} is false.
 */
export interface Pubsub {
  /**
   * Whether notifications are being received: the listener connection is up and every subscribed channel
   * is listened to. False before the first connection, during a reconnect, and after {@link close}.
   */
  readonly connected: boolean;

  /**
   * Sends `payload` to every subscriber of `channel` on every replica (this one included).
   * Resolves once the notification was handed to the server; delivery to subscribers is asynchronous.
   * Rejects, without publishing, with `PayloadTooLargeError` (`E_PUBSUB_PAYLOAD_TOO_LARGE`) when the
   * payload is over `MAX_PAYLOAD_BYTES` (7999) UTF-8 bytes, `InvalidInputError` for a bad channel name or
   * a NUL character, `PubsubClosedError` after {@link close}, and with the driver's error when the
   * notification could not be sent (database unreachable: nobody, on any replica, received it).
   */
  publish(channel: string, payload: string): Promise<void>;

  /**
   * Calls `handler` with each payload published to `channel`. Any number of handlers per channel.
   * The handler is registered at once; the promise resolves once the subscription is active (for
   * PostgreSQL: LISTEN has been executed), so a publish made after it resolves is delivered. While the
   * listener is disconnected it waits for the reconnect. Rejects with `InvalidInputError` for a bad channel
   * name, and with `PubsubClosedError` if the pubsub is or gets closed before the subscription is active.
   */
  subscribe(channel: string, handler: NotificationHandler): Promise<Unsubscribe>;

  /**
   * Calls `listener` whenever delivery may have had a gap: after a reconnect, once every channel is listened
   * to again (so anything read from the source of truth from then on is covered by notifications). Not
   * called for the first connection. Returns a function that removes the listener.
   */
  onReset(listener: () => void): () => void;

  /**
   * Calls `listener` with the new value of {@link connected} each time it changes: `false` as soon as the
   * listener connection is lost (not when the next attempt fails), `true` once it is back and every channel
   * is listened to again (just before the reset listeners run). Returns a function that removes the listener.
   */
  onConnectionChange(listener: (connected: boolean) => void): () => void;

  /**
   * Stops reconnecting, closes the connections, and rejects subscriptions still waiting to become active.
   * No handler or listener is called after it resolves; while closing, connection listeners get a final
   * `false` if the pubsub was connected. Idempotent: every call returns the same promise.
   */
  close(): Promise<void>;
}

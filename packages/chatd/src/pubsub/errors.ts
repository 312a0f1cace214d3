import { ChatdError } from '../errors.js';

/** A payload too large for PostgreSQL NOTIFY (see {@link MAX_PAYLOAD_BYTES}); nothing was published. */
export class PayloadTooLargeError extends ChatdError {
  /** The payload's size in UTF-8 bytes. */
  readonly bytes: number;
  /** The largest accepted payload in UTF-8 bytes. */
  readonly maxBytes: number;

  constructor(channel: string, bytes: number, maxBytes: number) {
    super(
      'E_PUBSUB_PAYLOAD_TOO_LARGE',
      `pubsub payload for channel "${channel}" is ${bytes} bytes; PostgreSQL NOTIFY accepts at most ${maxBytes}`,
    );
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** The pubsub was closed: it publishes and subscribes no more. */
export class PubsubClosedError extends ChatdError {
  constructor(message = 'pubsub is closed') {
    super('E_PUBSUB_CLOSED', message);
  }
}

import { InvalidInputError } from '../errors.js';
import { PayloadTooLargeError } from './errors.js';

/**
 * The largest NOTIFY payload PostgreSQL accepts, in UTF-8 bytes. The server rejects a payload whose byte
 * length is >= NOTIFY_PAYLOAD_MAX_LENGTH (BLCKSZ - NAMEDATALEN - 128 = 8000 in a default build) with
 * SQLSTATE 22023 "payload string too long". Measured on PostgreSQL 18.4: 7999 bytes accepted, 8000
 * rejected; test/pubsub/postgres-pubsub.test.ts re-checks the server on every run.
 */
export const MAX_PAYLOAD_BYTES = 7999;

/**
 * The longest channel name in UTF-8 bytes (NAMEDATALEN - 1). pg_notify rejects longer names ("channel name
 * too long") while LISTEN silently truncates them, so a longer name could never be delivered.
 */
export const MAX_CHANNEL_BYTES = 63;

/** Throws {@link InvalidInputError} unless `channel` is a name PostgreSQL can both LISTEN on and notify. */
export function assertValidChannel(channel: string): void {
  if (typeof channel !== 'string' || channel.length === 0) {
    throw new InvalidInputError('pubsub channel must be a non-empty string');
  }
  if (channel.includes('\0')) throw new InvalidInputError('pubsub channel must not contain NUL characters');
  const bytes = Buffer.byteLength(channel, 'utf8');
  if (bytes > MAX_CHANNEL_BYTES) {
    throw new InvalidInputError(
      `pubsub channel "${channel}" is ${bytes} bytes; PostgreSQL allows at most ${MAX_CHANNEL_BYTES}`,
    );
  }
}

/**
 * Throws {@link PayloadTooLargeError} when `payload` is over {@link MAX_PAYLOAD_BYTES} UTF-8 bytes, and
 * {@link InvalidInputError} when it is not a string or contains NUL (PostgreSQL text cannot hold it).
 */
export function assertValidPayload(channel: string, payload: string): void {
  if (typeof payload !== 'string') throw new InvalidInputError('pubsub payload must be a string');
  // Every UTF-16 code unit encodes to at most 3 UTF-8 bytes: short payloads skip the byte count.
  if (payload.length * 3 > MAX_PAYLOAD_BYTES) {
    const bytes = Buffer.byteLength(payload, 'utf8');
    if (bytes > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeError(channel, bytes, MAX_PAYLOAD_BYTES);
  }
  if (payload.includes('\0')) throw new InvalidInputError('pubsub payload must not contain NUL characters');
}

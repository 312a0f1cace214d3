export {
  type BackoffOptions,
  backoffDelay,
  DEFAULT_BACKOFF,
  type Jitter,
  type ResolvedBackoffOptions,
} from './backoff.js';
export type { PubsubCommonOptions, PubsubErrorContext, PubsubErrorHandler } from './error-reporter.js';
export { PayloadTooLargeError, PubsubClosedError } from './errors.js';
export { MAX_CHANNEL_BYTES, MAX_PAYLOAD_BYTES } from './limits.js';
export { MemoryPubsub, type MemoryPubsubOptions } from './memory-pubsub.js';
export { PostgresPubsub } from './postgres-pubsub.js';
export {
  LISTENER_APPLICATION_NAME,
  type PostgresPubsubOptions,
  PUBLISHER_APPLICATION_NAME,
  type ResolvedPostgresPubsubOptions,
} from './postgres-pubsub-options.js';
export type { NotificationHandler, Pubsub, Unsubscribe } from './pubsub.js';
export { RECONNECTS_METRIC } from './pubsub-metrics.js';

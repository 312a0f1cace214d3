import type { Logger } from '../logging/logger.js';

/** Where an error reported by a pubsub came from. */
export interface PubsubErrorContext {
  /** A notification handler, a reset listener or a connection-change listener threw. */
  readonly source: 'handler' | 'reset-listener' | 'connection-listener';
  /** The channel whose handler threw (for `handler`). */
  readonly channel?: string;
}

/** Receives the errors that a pubsub isolates (a throwing handler must not break delivery). */
export type PubsubErrorHandler = (error: unknown, context: PubsubErrorContext) => void;

/** Options every pubsub implementation takes. */
export interface PubsubCommonOptions {
  /** Where the pubsub logs (connection events; isolated errors when there is no `onError`). */
  readonly logger?: Logger;
  /**
   * Called with each error thrown by a handler or listener. Default: logged at error level through
   * `logger`, or printed with console.error when there is no logger.
   */
  readonly onError?: PubsubErrorHandler;
}

/** Builds the one function that reports isolated errors; it never throws. */
export function createErrorReporter(options: PubsubCommonOptions): PubsubErrorHandler {
  const { onError, logger } = options;
  const fallback: PubsubErrorHandler = (error, context) => {
    if (logger) logger.error({ err: error, ...context }, 'pubsub: a subscriber threw');
    else console.error('pubsub: a subscriber threw', context, error);
  };
  if (!onError) return fallback;
  return (error, context) => {
    try {
      onError(error, context);
    } catch (reportError) {
      fallback(reportError, context);
    }
  };
}

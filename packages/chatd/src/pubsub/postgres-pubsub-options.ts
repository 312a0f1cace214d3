import type { Registry } from 'prom-client';
import type { Logger } from '../logging/logger.js';
import { type BackoffOptions, type ResolvedBackoffOptions, resolveBackoff } from './backoff.js';
import type { PubsubCommonOptions, PubsubErrorHandler } from './error-reporter.js';

/** The default `application_name` of the listener connection. */
export const LISTENER_APPLICATION_NAME = 'chatd-pubsub-listener';
/** The default `application_name` of the publisher connection. */
export const PUBLISHER_APPLICATION_NAME = 'chatd-pubsub-publisher';

/** Options of a {@link PostgresPubsub}; every duration in ms. */
export interface PostgresPubsubOptions extends PubsubCommonOptions {
  /** `application_name` of the listener connection, as shown in pg_stat_activity. */
  readonly listenerApplicationName?: string;
  /** `application_name` of the publisher connection. */
  readonly publisherApplicationName?: string;
  /** Delays between reconnect attempts: capped, jittered exponential backoff (default 100 ms to 5 s). */
  readonly reconnect?: BackoffOptions;
  /** The jitter's random source, [0, 1) like Math.random; injectable for tests. */
  readonly random?: () => number;
  /**
   * How long one listener connection attempt may take, from TCP connect through the re-LISTEN of every
   * channel, before it counts as failed; also the publisher's connect timeout. Default 5000.
   */
  readonly connectTimeoutMs?: number;
  /**
   * How often the listener proves its connection with `SELECT 1`, so that a silently dead connection
   * (half-open TCP: no FIN, no RST) is reported as disconnected. 0 disables. Default 10000.
   */
  readonly heartbeatIntervalMs?: number;
  /** How long a heartbeat may take before the connection counts as lost. Default 5000. */
  readonly heartbeatTimeoutMs?: number;
  /** Where `chatd_pubsub_reconnects_total` is registered; none by default. */
  readonly registry?: Registry;
  /**
   * Whether the publisher uses a named prepared statement (default true); false when its URL goes through
   * a transaction-mode pooler that does not track them. The listener never prepares.
   */
  readonly preparedStatements?: boolean;
}

/** {@link PostgresPubsubOptions} parsed once, with defaults filled in. */
export interface ResolvedPostgresPubsubOptions {
  readonly listenerApplicationName: string;
  readonly publisherApplicationName: string;
  readonly reconnect: ResolvedBackoffOptions;
  readonly random: () => number;
  readonly connectTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly registry: Registry | undefined;
  readonly preparedStatements: boolean;
  readonly logger: Logger | undefined;
  readonly onError: PubsubErrorHandler | undefined;
}

/** Fills in defaults and validates; throws RangeError for an invalid value. */
export function resolvePostgresPubsubOptions(options: PostgresPubsubOptions): ResolvedPostgresPubsubOptions {
  const resolved: ResolvedPostgresPubsubOptions = {
    listenerApplicationName: options.listenerApplicationName ?? LISTENER_APPLICATION_NAME,
    publisherApplicationName: options.publisherApplicationName ?? PUBLISHER_APPLICATION_NAME,
    reconnect: resolveBackoff(options.reconnect),
    random: options.random ?? Math.random,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 10_000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 5_000,
    registry: options.registry,
    preparedStatements: options.preparedStatements ?? true,
    logger: options.logger,
    onError: options.onError,
  };
  for (const name of ['connectTimeoutMs', 'heartbeatTimeoutMs'] as const) {
    const value = resolved[name];
    if (!(Number.isFinite(value) && value > 0)) {
      throw new RangeError(`PostgresPubsub: ${name} must be a duration in ms > 0, got ${String(value)}`);
    }
  }
  if (!(Number.isFinite(resolved.heartbeatIntervalMs) && resolved.heartbeatIntervalMs >= 0)) {
    throw new RangeError(
      `PostgresPubsub: heartbeatIntervalMs must be a duration in ms >= 0, got ${String(resolved.heartbeatIntervalMs)}`,
    );
  }
  return Object.freeze(resolved);
}

import type { Logger } from 'pino';
import type { Store } from '../db/store.js';

/**
 * This replica's row in `replicas`: registered at start, heartbeated with the highest config version it
 * has applied (what `GET /api/v1/chat/config/status` shows), removed on a clean stop. Each heartbeat also
 * removes the rows of replicas silent for `expiryMs` (killed, so they never removed their own).
 */
export class ReplicaRegistry {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #appliedVersion: () => number;
  readonly #expiryMs: number;
  readonly #onDatabaseConfigVersion: ((version: number) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly id: string;
  readonly hostname: string;

  constructor(deps: {
    store: Store;
    logger: Logger;
    id: string;
    hostname: string;
    appliedVersion: () => number;
    /** Replicas silent this long are removed from the registry. */
    expiryMs: number;
    /** Called with the database's config version after each heartbeat (the config cache's check). */
    onDatabaseConfigVersion?: (version: number) => void;
  }) {
    this.#onDatabaseConfigVersion = deps.onDatabaseConfigVersion;
    this.#expiryMs = deps.expiryMs;
    this.#store = deps.store;
    this.#logger = deps.logger;
    this.#appliedVersion = deps.appliedVersion;
    this.id = deps.id;
    this.hostname = deps.hostname;
  }

  /** Registers the replica and heartbeats every `intervalMs`. */
  async start(intervalMs: number): Promise<void> {
    await this.#store.upsertReplica({ id: this.id, hostname: this.hostname });
    await this.heartbeat();
    this.#timer = setInterval(() => void this.heartbeat(), intervalMs);
    this.#timer.unref();
  }

  /** Writes the heartbeat and applied version now (re-registering if the row was removed). */
  async heartbeat(): Promise<void> {
    try {
      let beat = await this.#store.heartbeatReplica(this.id, this.#appliedVersion(), this.#expiryMs);
      if (!beat.found) {
        await this.#store.upsertReplica({ id: this.id, hostname: this.hostname });
        beat = await this.#store.heartbeatReplica(this.id, this.#appliedVersion(), this.#expiryMs);
      }
      this.#onDatabaseConfigVersion?.(beat.configVersion);
    } catch (error) {
      this.#logger.warn({ err: error }, 'replica heartbeat failed');
    }
  }

  /** Stops heartbeating and removes the row. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#store.deleteReplica(this.id).catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'could not remove the replica row');
    });
  }
}

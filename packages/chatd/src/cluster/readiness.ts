import type { SchemaState } from '../db/queries/schema-version.js';
import type { Store } from '../db/store.js';

/** What {@link Readiness} looks at. */
export interface ReadinessDependencies {
  readonly store: Pick<Store, 'getSchemaState'>;
  /** The schema version this build migrates to (the id of the newest migration it ships). */
  readonly knownSchemaVersion: number;
  /** Whether the pubsub listener is connected (config invalidation, streams and interrupts depend on it). */
  readonly listenerConnected: () => boolean;
  /** Whether the replica is shutting down (it claims no more turns). */
  readonly stopping: () => boolean;
  /** Why the NOTIFY queue makes this replica not ready, if it does (see `notify-queue-monitor.ts`). */
  readonly notifyQueueReason?: () => string | undefined;
  /** How long the database may take to answer; default 2,000 ms. */
  readonly databaseTimeoutMs?: number;
}

/**
 * Whether this replica should receive traffic (`GET /readyz`): the database answers within a bound, its
 * schema is the one this build knows (or newer by expand steps only, see `db/migrate.ts`), the LISTEN
 * connection is up, the NOTIFY queue is below its threshold, and the replica is not shutting down.
 * Each check that fails gives a reason a person can act on. Liveness (`/healthz`) is separate: a replica
 * that is not ready is still alive, and restarting it would not bring the database back.
 */
export class Readiness {
  readonly #deps: ReadinessDependencies;

  constructor(deps: ReadinessDependencies) {
    this.#deps = deps;
  }

  /** The reasons this replica is not ready; empty when it is. One database query per call. */
  async reasons(): Promise<string[]> {
    const reasons: string[] = [];
    if (this.#deps.stopping()) reasons.push('the replica is shutting down');
    const schema = await this.#schemaVersion();
    if (typeof schema === 'string') reasons.push(schema);
    else if (schema.newerNotExpand.length > 0) {
      // A newer release's expand steps (`-- chatd:expand`) leave a schema this build runs on: a replica
      // stays ready through them, or running `chatd migrate` before the new replicas are up would take
      // every old one out of the load balancer at once. Anything else (a contract step) it must not serve.
      reasons.push(
        `the database schema version ${schema.version} is newer than this build knows (${this.#deps.knownSchemaVersion}) and migrations ${schema.newerNotExpand.join(', ')} are not expand steps it can run on: finish the rollout (replace this replica with the new release)`,
      );
    } else if (schema.version < this.#deps.knownSchemaVersion) {
      reasons.push(
        `the database schema version ${schema.version} is older than this build needs (${this.#deps.knownSchemaVersion}): run chatd migrate`,
      );
    }
    if (!this.#deps.listenerConnected()) {
      reasons.push(
        'the pubsub listener is not connected: config changes, streams and interrupts are delayed',
      );
    }
    const notifyQueue = this.#deps.notifyQueueReason?.();
    if (notifyQueue) reasons.push(notifyQueue);
    return reasons;
  }

  /** The schema version and its newer non-expand migrations, or why they could not be read. */
  async #schemaVersion(): Promise<SchemaState | string> {
    const timeoutMs = this.#deps.databaseTimeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the database did not answer within ${timeoutMs} ms`), timeoutMs);
    });
    try {
      return await Promise.race([
        this.#deps.store
          .getSchemaState(this.#deps.knownSchemaVersion)
          .catch((error: unknown) => `the database is unreachable: ${(error as Error).message}`),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

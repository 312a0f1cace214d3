import type { Db } from '../connection.js';
import type { ReplicaRow } from '../rows.js';

const COLUMNS = 'id, hostname, started_at, heartbeat_at, applied_config_version';

/** Registers (or re-registers) a replica at start-up. */
export async function upsertReplica(db: Db, input: { id: string; hostname: string }): Promise<ReplicaRow> {
  const [row] = await db<[ReplicaRow]>`
    INSERT INTO replicas (id, hostname) VALUES (${input.id}, ${input.hostname})
    ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, heartbeat_at = now()
    RETURNING ${db.unsafe(COLUMNS)}`;
  return row!;
}

/** What a heartbeat answers. */
export interface ReplicaHeartbeat {
  /** False when this replica's own row is gone (it re-registers). */
  readonly found: boolean;
  /**
   * The database's config version now (as `getConfigVersion`): the replica's check that it has not
   * missed a config-change notification, at no extra statement.
   */
  readonly configVersion: number;
}

/**
 * Heartbeat: records that the replica is alive and the highest config version it has applied, and in the
 * same statement removes the rows of replicas silent for `expiryMs` (killed without a clean stop: they
 * never remove their own row) and reads the database's config version.
 */
export async function heartbeatReplica(
  db: Db,
  id: string,
  appliedConfigVersion: number,
  expiryMs: number,
): Promise<ReplicaHeartbeat> {
  const [row] = await db<[ReplicaHeartbeat]>`
    WITH expired AS (
      DELETE FROM replicas
      WHERE id <> ${id} AND heartbeat_at < now() - make_interval(secs => ${expiryMs / 1000})
    ), beat AS (
      UPDATE replicas SET heartbeat_at = now(), applied_config_version = ${appliedConfigVersion}
      WHERE id = ${id}
      RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM beat) AS found,
      (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM chat_config_version_seq) AS config_version`;
  return { found: row!.found, configVersion: Number(row!.configVersion) };
}

/** Every known replica, oldest first. */
export async function listReplicas(db: Db): Promise<ReplicaRow[]> {
  return db<ReplicaRow[]>`SELECT ${db.unsafe(COLUMNS)} FROM replicas ORDER BY started_at, id`;
}

/** Removes a replica (clean shutdown). */
export async function deleteReplica(db: Db, id: string): Promise<void> {
  await db`DELETE FROM replicas WHERE id = ${id}`;
}

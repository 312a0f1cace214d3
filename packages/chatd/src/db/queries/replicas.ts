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

/**
 * Heartbeat: records that the replica is alive and the highest config version it has applied, and in the
 * same statement removes the rows of replicas silent for `expiryMs` (killed without a clean stop: they
 * never remove their own row). False when this replica's own row is gone.
 */
export async function heartbeatReplica(
  db: Db,
  id: string,
  appliedConfigVersion: number,
  expiryMs: number,
): Promise<boolean> {
  const [row] = await db<[{ found: boolean }]>`
    WITH expired AS (
      DELETE FROM replicas
      WHERE id <> ${id} AND heartbeat_at < now() - make_interval(secs => ${expiryMs / 1000})
    ), beat AS (
      UPDATE replicas SET heartbeat_at = now(), applied_config_version = ${appliedConfigVersion}
      WHERE id = ${id}
      RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM beat) AS found`;
  return row!.found;
}

/** Every known replica, oldest first. */
export async function listReplicas(db: Db): Promise<ReplicaRow[]> {
  return db<ReplicaRow[]>`SELECT ${db.unsafe(COLUMNS)} FROM replicas ORDER BY started_at, id`;
}

/** Removes a replica (clean shutdown). */
export async function deleteReplica(db: Db, id: string): Promise<void> {
  await db`DELETE FROM replicas WHERE id = ${id}`;
}

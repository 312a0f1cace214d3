import type { Db } from '../connection.js';

/** The newest migration applied to the database (0 when none is); also proves the database answers. */
export async function getSchemaVersion(db: Db): Promise<number> {
  const [row] = await db<[{ version: number | null }]>`SELECT max(id) AS version FROM chatd_migrations`;
  return row?.version ?? 0;
}

/** What {@link getSchemaState} reads. */
export interface SchemaState {
  /** The newest migration applied (0 when none is). */
  readonly version: number;
  /** Applied migrations newer than the caller's version that are not expand steps, in id order. */
  readonly newerNotExpand: number[];
}

/**
 * The schema version, and which migrations newer than `knownVersion` an older build may not run on (see
 * `migrate.ts`). `expand` is read through to_jsonb: a table created before the column reads as false.
 */
export async function getSchemaState(db: Db, knownVersion: number): Promise<SchemaState> {
  const [row] = await db<[{ version: number | null; newerNotExpand: number[] | null }]>`
    SELECT max(id) AS version,
      array_agg(id ORDER BY id) FILTER (
        WHERE id > ${knownVersion} AND NOT coalesce((to_jsonb(m) ->> 'expand')::boolean, false)
      ) AS newer_not_expand
    FROM chatd_migrations m`;
  return { version: row?.version ?? 0, newerNotExpand: row?.newerNotExpand ?? [] };
}

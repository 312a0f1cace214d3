import type { Db } from '../connection.js';

/** The newest migration applied to the database (0 when none is); also proves the database answers. */
export async function getSchemaVersion(db: Db): Promise<number> {
  const [row] = await db<[{ version: number | null }]>`SELECT max(id) AS version FROM chatd_migrations`;
  return row?.version ?? 0;
}

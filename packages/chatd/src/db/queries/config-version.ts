import type { Db } from '../connection.js';

/**
 * The latest config version handed out by the config-change triggers (0 before the first change). A
 * version taken by a transaction still in flight counts: its notification arrives when it commits.
 */
export async function getConfigVersion(db: Db): Promise<number> {
  const [row] = await db<[{ version: number }]>`
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS version FROM chat_config_version_seq`;
  return row!.version;
}

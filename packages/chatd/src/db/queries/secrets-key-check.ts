import type { Db } from '../connection.js';

/** The advisory-lock key of the secrets key check ("skey" in ASCII). */
const SECRETS_KEY_LOCK = 0x736b6579;

/**
 * Serialises the secrets key check and its rotation across replicas until the transaction ends: two
 * replicas at their first start, or a start and `chatd secrets rotate`, never interleave.
 */
export async function lockSecretsKeyCheck(db: Db): Promise<void> {
  await db`SELECT pg_advisory_xact_lock(${SECRETS_KEY_LOCK})`;
}

/** The recorded check value of the secrets key (32 bytes), or undefined before the first start. */
export async function getSecretsKeyCheck(db: Db): Promise<Buffer | undefined> {
  const [row] = await db<[{ checkValue: Buffer }?]>`SELECT check_value FROM secrets_key_check`;
  return row?.checkValue;
}

/** Records (or replaces) the check value of the secrets key. */
export async function recordSecretsKeyCheck(db: Db, checkValue: Buffer): Promise<void> {
  await db`
    INSERT INTO secrets_key_check (check_value) VALUES (${checkValue})
    ON CONFLICT (singleton) DO UPDATE SET check_value = EXCLUDED.check_value, recorded_at = now()`;
}

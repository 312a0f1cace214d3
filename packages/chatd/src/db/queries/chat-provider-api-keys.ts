import type { Db } from '../connection.js';

/** A provider's encrypted API key, as the secrets key check and rotation see it. */
export interface EncryptedChatProviderApiKey {
  id: string;
  displayName: string;
  apiKeyEncrypted: Buffer;
}

/**
 * Every stored provider API key, locked until the transaction ends (`FOR UPDATE`): a concurrent PATCH
 * waits instead of writing a box between the read and the re-encryption of a rotation.
 */
export async function lockEncryptedChatProviderApiKeys(db: Db): Promise<EncryptedChatProviderApiKey[]> {
  return db<EncryptedChatProviderApiKey[]>`
    SELECT id, display_name, api_key_encrypted FROM chat_providers
    WHERE api_key_encrypted IS NOT NULL ORDER BY id FOR UPDATE`;
}

/**
 * Replaces a provider's encrypted API key with the same key encrypted anew (rotation): `updated_at` is
 * left alone, the provider did not change. The config-change trigger still fires, so replicas reload it.
 * False when there is no such provider.
 */
export async function setChatProviderApiKeyEncrypted(db: Db, id: string, box: Buffer): Promise<boolean> {
  const result = await db`UPDATE chat_providers SET api_key_encrypted = ${box} WHERE id = ${id}`;
  return result.count > 0;
}

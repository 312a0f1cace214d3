import type { Store } from '../db/store.js';
import { SecretBox, SecretDecryptionError } from './secret-box.js';
import { keyIndexOfCheck, SecretsKeyMismatchError, secretsKeyCheck } from './secrets-key-check.js';

/** Providers named in the error when API keys cannot be decrypted (the rest are counted). */
const MAX_NAMED = 5;

/** What {@link rotateSecretsKey} did. */
export interface SecretsRotationResult {
  /** How many provider API keys were re-encrypted with the first key. */
  readonly reencrypted: number;
  /** The index of the key the database recorded before (-1: none was recorded). */
  readonly previousKeyIndex: number;
}

/**
 * `chatd secrets rotate`: re-encrypts every stored provider API key with the first of `keys` (each
 * decrypted with whichever key of the list made it) and records the first key's check, in one
 * transaction. All or nothing: when the database records a key that is not in the list, or a stored API
 * key decrypts with none of them, it throws and changes nothing.
 *
 * Ordering: it takes the secrets key lock (a replica's first-start check waits) and locks the provider
 * rows it rewrites (a concurrent PATCH waits, then writes over the re-encrypted key with its own box).
 * The rows' config-change triggers tell every replica to reload the providers when it commits.
 */
export async function rotateSecretsKey(
  store: Store,
  keys: readonly Buffer[],
): Promise<SecretsRotationResult> {
  const ring = new SecretBox(keys);
  return store.transaction(async (tx) => {
    await tx.lockSecretsKeyCheck();
    const recorded = await tx.getSecretsKeyCheck();
    const previousKeyIndex = recorded ? keyIndexOfCheck(keys, recorded) : -1;
    if (recorded && previousKeyIndex < 0) {
      throw new SecretsKeyMismatchError(
        `none of the ${keys.length} secrets keys given is the one this database records, so the stored provider API keys cannot be read; nothing was changed. Give the new key first and the current one after it: --secrets-key NEW,CURRENT`,
      );
    }
    const stored = await tx.lockEncryptedChatProviderApiKeys();
    // Every key is decrypted before anything is written: one that no key opens aborts the whole rotation.
    const plaintexts: string[] = [];
    const unreadable: string[] = [];
    for (const secret of stored) {
      try {
        plaintexts.push(ring.decrypt(secret.apiKeyEncrypted));
      } catch {
        unreadable.push(`'${secret.displayName}' (${secret.id})`);
      }
    }
    if (unreadable.length > 0) {
      const named = unreadable.slice(0, MAX_NAMED).join(', ');
      const more = unreadable.length > MAX_NAMED ? ` and ${unreadable.length - MAX_NAMED} more` : '';
      throw new SecretDecryptionError(
        `the API key of ${unreadable.length === 1 ? 'provider' : 'providers'} ${named}${more} decrypts with none of the ${keys.length} secrets keys given; nothing was changed. Add the key that encrypted it to the list, after the new key.`,
      );
    }
    for (const [index, secret] of stored.entries()) {
      await tx.setChatProviderApiKeyEncrypted(secret.id, ring.encrypt(plaintexts[index]!));
    }
    await tx.recordSecretsKeyCheck(secretsKeyCheck(keys[0]!));
    return { reencrypted: stored.length, previousKeyIndex };
  });
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Store } from '../db/store.js';
import { ChatdError } from '../errors.js';
import { SecretBox } from './secret-box.js';

/** The message the check value authenticates; a new scheme gets a new version. */
const CHECK_CONTEXT = 'chatd secrets key check v1';

/**
 * What a replica should do when its key is not the database's: shared by every mismatch message.
 */
export const SECRETS_KEY_ADVICE =
  'Start every replica that shares this database with the same --secrets-key (or --secrets-key-file) as the others. ' +
  'To change the key: restart the replicas with --secrets-key NEW,OLD, run `chatd secrets rotate --secrets-key NEW,OLD`, then restart them with NEW alone.';

/** This replica's secrets key is not the one the database's stored secrets are encrypted with. */
export class SecretsKeyMismatchError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_SECRETS_KEY_MISMATCH', message, options);
  }
}

/**
 * The check value of a secrets key: HMAC-SHA256(key, "chatd secrets key check v1"), 32 bytes. It tells
 * whether two replicas hold the same key; the key cannot be recovered from it.
 */
export function secretsKeyCheck(key: Buffer): Buffer {
  return createHmac('sha256', key).update(CHECK_CONTEXT).digest();
}

/** The index of the first key whose check value is `check`, or -1. */
export function keyIndexOfCheck(keys: readonly Buffer[], check: Buffer): number {
  return keys.findIndex((key) => {
    const candidate = secretsKeyCheck(key);
    return candidate.length === check.length && timingSafeEqual(candidate, check);
  });
}

/** What {@link verifySecretsKeys} found. */
export interface SecretsKeyCheckResult {
  /** The index, in the given list, of the key the database records (0: the first key, as it should be). */
  readonly recordedKeyIndex: number;
  /** True when this call recorded the check (the first start of a chatd with checks on this database). */
  readonly recordedNow: boolean;
  /** How many stored provider API keys were verified before recording (0 unless `recordedNow`). */
  readonly verifiedSecrets: number;
}

/** Options of {@link verifySecretsKeys}. */
export interface VerifySecretsKeysOptions {
  /** Set when no key was given and this replica generated its own there: the messages say so. */
  readonly generatedKeyFile?: string | undefined;
}

/**
 * The start check: passes when one of `keys` is the key the database records, and refuses otherwise
 * with a {@link SecretsKeyMismatchError} that says what to do (never a key). On the first start (nothing
 * recorded yet) it records the check of a key of the list, but only after proving that this key decrypts
 * every provider API key already stored (a deployment from before the check); it refuses when none does.
 *
 * Ordering: everything runs in one transaction under an advisory lock, so replicas racing at their
 * first start serialise: the first records its key, the others then compare with it. The stored API keys
 * are read `FOR UPDATE`, so none is rewritten between their verification and the recording.
 */
export async function verifySecretsKeys(
  store: Store,
  keys: readonly Buffer[],
  options: VerifySecretsKeysOptions = {},
): Promise<SecretsKeyCheckResult> {
  if (keys.length === 0) throw new SecretsKeyMismatchError('no secrets key given');
  return store.transaction(async (tx) => {
    await tx.lockSecretsKeyCheck();
    const recorded = await tx.getSecretsKeyCheck();
    if (recorded) {
      const index = keyIndexOfCheck(keys, recorded);
      if (index < 0) {
        throw new SecretsKeyMismatchError(
          `${notTheRecordedKey(keys, options)} (the database stores a check value of its key, never the key): the provider API keys it holds would not decrypt here, and those this replica stored would not decrypt on the others. ${SECRETS_KEY_ADVICE}`,
        );
      }
      return { recordedKeyIndex: index, recordedNow: false, verifiedSecrets: 0 };
    }

    const stored = await tx.lockEncryptedChatProviderApiKeys();
    const decryptsAll = (box: SecretBox) => stored.every((secret) => decrypts(box, secret.apiKeyEncrypted));
    const index = keys.findIndex((key) => decryptsAll(new SecretBox(key)));
    if (index < 0) {
      const ring = new SecretBox(keys);
      const unreadable = stored.filter((secret) => !decrypts(ring, secret.apiKeyEncrypted)).length;
      throw new SecretsKeyMismatchError(
        unreadable > 0
          ? `${unreadable} of the ${stored.length} provider API keys stored in this database cannot be decrypted with ${describeKeys(keys, options)}: replicas with another secrets key stored them. ${SECRETS_KEY_ADVICE}`
          : `the ${stored.length} provider API keys stored in this database are encrypted with different secrets keys (replicas with different keys stored them). Re-encrypt them with one key: \`chatd secrets rotate --secrets-key NEW,KEY1,KEY2...\` (NEW first, then every key that encrypted one of them), then start every replica with --secrets-key NEW alone.`,
      );
    }
    await tx.recordSecretsKeyCheck(secretsKeyCheck(keys[index]!));
    return { recordedKeyIndex: index, recordedNow: true, verifiedSecrets: stored.length };
  });
}

function decrypts(box: SecretBox, secret: Buffer): boolean {
  try {
    box.decrypt(secret);
    return true;
  } catch {
    return false;
  }
}

/** "The secrets key of this replica is not the one this database records", with where the key came from. */
function notTheRecordedKey(keys: readonly Buffer[], options: VerifySecretsKeysOptions): string {
  if (options.generatedKeyFile) {
    return `no --secrets-key was given, so this replica generated its own secrets key in ${options.generatedKeyFile}, and it is not the one this database records`;
  }
  return keys.length === 1
    ? 'the secrets key of this replica is not the one this database records'
    : `none of the ${keys.length} secrets keys of this replica is the one this database records`;
}

/** "the secrets key of this replica", said so that the operator sees where it came from. */
function describeKeys(keys: readonly Buffer[], options: VerifySecretsKeysOptions): string {
  if (options.generatedKeyFile) {
    return `the secrets key this replica generated in ${options.generatedKeyFile} because no --secrets-key was given`;
  }
  return keys.length === 1
    ? 'the secrets key of this replica'
    : `any of the ${keys.length} secrets keys of this replica`;
}

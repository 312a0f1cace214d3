import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ChatdError, InvalidInputError } from '../errors.js';

const FORMAT_VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Binds ciphertexts to their purpose: a value encrypted for something else does not decrypt here. */
const ASSOCIATED_DATA = Buffer.from('chatd:secret:v1');

/** A stored secret that cannot be decrypted (wrong key, or corrupted). */
export class SecretDecryptionError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_SECRET_DECRYPTION', message, options);
  }
}

/**
 * AES-256-GCM for secrets at rest (provider API keys), with a keyring for rotation: it encrypts with the
 * first key and decrypts with whichever key of the ring made the box. A box is
 * `[version 1 byte][nonce 12 bytes][tag 16 bytes][ciphertext]`, the same whatever the ring (boxes made
 * before keyrings existed decrypt as they are); a fresh random nonce per encryption.
 */
export class SecretBox {
  readonly #keys: readonly Buffer[];

  /**
   * @param keys one key, or a keyring (the first encrypts, any decrypts); each exactly 32 bytes.
   * @throws {InvalidInputError} on an empty ring or a key of the wrong size.
   */
  constructor(keys: Buffer | readonly Buffer[]) {
    const ring = Buffer.isBuffer(keys) ? [keys] : [...keys];
    if (ring.length === 0) throw new InvalidInputError('at least one secrets key is needed');
    if (ring.some((key) => key.length !== KEY_BYTES)) {
      throw new InvalidInputError(`the secrets key must be ${KEY_BYTES} bytes`);
    }
    this.#keys = Object.freeze(ring.map((key) => Buffer.from(key)));
  }

  /** How many keys the ring holds. */
  get keyCount(): number {
    return this.#keys.length;
  }

  /** Encrypts with the first key of the ring. */
  encrypt(plaintext: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0]!, nonce);
    cipher.setAAD(ASSOCIATED_DATA);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(FORMAT_VERSION), nonce, cipher.getAuthTag(), ciphertext]);
  }

  /**
   * Decrypts with the key of the ring that made the box (GCM authenticates: a wrong key fails its tag
   * check, it never yields garbage).
   * @throws {SecretDecryptionError} when no key of the ring made the box, or it was altered.
   */
  decrypt(box: Uint8Array): string {
    const data = Buffer.from(box);
    if (data.length < 1 + NONCE_BYTES + TAG_BYTES || data[0] !== FORMAT_VERSION) {
      throw new SecretDecryptionError('stored secret has an unknown format');
    }
    const nonce = data.subarray(1, 1 + NONCE_BYTES);
    const tag = data.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + TAG_BYTES);
    const ciphertext = data.subarray(1 + NONCE_BYTES + TAG_BYTES);
    let cause: unknown;
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(ASSOCIATED_DATA);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
      } catch (error) {
        cause = error;
      }
    }
    throw new SecretDecryptionError(
      this.#keys.length === 1
        ? 'stored secret cannot be decrypted with this secrets key (was --secrets-key changed?)'
        : `stored secret cannot be decrypted with any of the ${this.#keys.length} secrets keys (was --secrets-key changed?)`,
      { cause },
    );
  }
}

/**
 * Parses `--secrets-key`: 32 bytes as 64 hex characters or as base64/base64url (44/43 characters).
 * @throws {InvalidInputError} with what is expected (never echoing the value).
 */
export function parseSecretsKey(value: string): Buffer {
  const trimmed = value.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  if (!key || key.length !== KEY_BYTES) {
    throw new InvalidInputError(
      'the secrets key must be 32 bytes, written as 64 hex characters or base64 (generate one with: openssl rand -hex 32)',
    );
  }
  return key;
}

/** The file under the cache dir that holds the generated key of an embedded deployment. */
export const SECRETS_KEY_FILE = 'secrets-key';

/**
 * The key in `<cacheDir>/secrets-key`, generated (0600) on first use; the cache dir and its missing
 * parents are created private (0700), as on a fresh machine with `--postgres-url` (nothing else has
 * created them yet). Replicas that share a database must share the key: pass the same `--secrets-key`
 * to each instead.
 */
export async function loadOrCreateSecretsKey(cacheDir: string): Promise<Buffer> {
  const file = path.join(cacheDir, SECRETS_KEY_FILE);
  try {
    return parseSecretsKey(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  // Written whole under a private name, then linked into place: link() is atomic and fails if the file
  // exists, so a concurrent reader never sees a half-written key and the first writer wins.
  const scratch = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(scratch, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(scratch, file);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return parseSecretsKey(await readFile(file, 'utf8'));
    throw error;
  } finally {
    await unlink(scratch);
  }
}

import { hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * The shape API tokens and session cookies share: `<prefix>_<public id>_<secret>`. The public id (12
 * characters of [a-z0-9]) finds the row; the secret (32 random bytes, base64url) is only ever stored as
 * its SHA-256. A high-entropy secret needs no slow hash: nobody can brute-force 256 bits.
 */
const PUBLIC_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const PUBLIC_ID_LENGTH = 12;
const SECRET_BYTES = 32;

/** A freshly generated credential: `value` goes to its holder once; only `secretHash` is stored. */
export interface GeneratedCredential {
  readonly value: string;
  readonly publicId: string;
  readonly secret: string;
  readonly secretHash: Buffer;
}

/** Generates `<prefix>_<public id>_<secret>` with a 256-bit secret. */
export function generateCredential(prefix: string): GeneratedCredential {
  let publicId = '';
  for (let i = 0; i < PUBLIC_ID_LENGTH; i++)
    publicId += PUBLIC_ID_ALPHABET[randomInt(PUBLIC_ID_ALPHABET.length)];
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { value: `${prefix}_${publicId}_${secret}`, publicId, secret, secretHash: hashSecret(secret) };
}

/** Splits a credential of this prefix into its public id and secret; undefined when malformed. */
export function parseCredential(
  prefix: string,
  value: string,
): { publicId: string; secret: string } | undefined {
  if (!value.startsWith(`${prefix}_`)) return undefined;
  const match = /^([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/.exec(value.slice(prefix.length + 1));
  return match ? { publicId: match[1]!, secret: match[2]! } : undefined;
}

/** The stored form of a secret. */
export function hashSecret(secret: string): Buffer {
  // One-shot `crypto.hash` (no Hash object per request): every API request hashes its token.
  return hash('sha256', secret, 'buffer');
}

/** A hash that matches no secret, compared when the public id is unknown so both paths cost the same. */
const DECOY_HASH = hashSecret(randomBytes(SECRET_BYTES).toString('base64url'));

/**
 * Whether `secret` matches the stored hash, in constant time; a missing row is compared against a decoy
 * so that an unknown public id takes as long as a wrong secret.
 */
export function secretMatches(secret: string, storedHash: Buffer | undefined): boolean {
  const candidate = hashSecret(secret);
  const stored = storedHash ?? DECOY_HASH;
  const equal = candidate.length === stored.length && timingSafeEqual(candidate, stored);
  return equal && storedHash !== undefined;
}

/** Whether a `last_used_at`-style timestamp is older than `resolutionMs` (so it is worth a write). */
export function isStale(at: Date | null, resolutionMs: number, now = Date.now()): boolean {
  return at === null || now - at.getTime() > resolutionMs;
}

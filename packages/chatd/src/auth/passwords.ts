import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

/** Passwords shorter than this are refused (counted in characters, not bytes). */
export const MIN_PASSWORD_LENGTH = 10;
/** Passwords longer than this are refused: generous for passphrases and managers, a bound for the KDF. */
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * scrypt's cost as log2(N). 17 (N = 131072, r = 8, p = 1: 128 MiB and about half a second here) is
 * OWASP's recommendation; each hash records its own parameters, so raising this later upgrades stored
 * hashes at their next login.
 */
export const DEFAULT_SCRYPT_LOG_N = 17;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** A stored hash asking for more than this is refused rather than evaluated (a planted row must not OOM us). */
const MAX_LOG_N = 20;

const PHC_PATTERN =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/**
 * Checks a new password against the length rules.
 * @throws {InvalidInputError} saying what is required (never echoing the value).
 */
export function requireAcceptablePassword(password: string, field = 'password'): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new InvalidInputError(`${field}: must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new InvalidInputError(`${field}: must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.includes('\u0000')) throw new InvalidInputError(`${field}: must not contain NUL characters`);
}

/** Options of a {@link PasswordHasher}. */
export interface PasswordHasherOptions {
  /** log2 of scrypt's N; default {@link DEFAULT_SCRYPT_LOG_N}. Tests lower it to run fast. */
  readonly logN?: number;
  /**
   * Hashes computed at once; more wait. Each takes 128 r N bytes (128 MiB at the default cost), so a burst
   * of logins cannot exhaust memory. Default 2.
   */
  readonly maxConcurrent?: number;
}

/**
 * Hashes and verifies passwords with scrypt (memory-hard; in Node's crypto, no native add-on to build).
 * Hashes are PHC strings: `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`.
 */
export class PasswordHasher {
  readonly #logN: number;
  readonly #maxConcurrent: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  #decoy: Promise<string> | undefined;

  constructor(options: PasswordHasherOptions = {}) {
    this.#logN = options.logN ?? DEFAULT_SCRYPT_LOG_N;
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    if (!(Number.isInteger(this.#logN) && this.#logN >= 4 && this.#logN <= MAX_LOG_N)) {
      throw new RangeError(`logN must be an integer from 4 to ${MAX_LOG_N}, got ${this.#logN}`);
    }
  }

  /** A new hash of `password` with a fresh salt. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.#derive(password, salt, this.#logN, BLOCK_SIZE, PARALLELISM);
    return `$scrypt$ln=${this.#logN},r=${BLOCK_SIZE},p=${PARALLELISM}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  /**
   * Whether `password` matches `storedHash`. With no stored hash (unknown user, no password set) it
   * still derives a key, against a decoy, so that the answer takes as long either way.
   */
  async verify(password: string, storedHash: string | null | undefined): Promise<boolean> {
    const parsed = storedHash ? parsePhc(storedHash) : undefined;
    if (!parsed) {
      const decoy = parsePhc(await this.#decoyHash())!;
      await this.#derive(password, decoy.salt, decoy.logN, decoy.r, decoy.p);
      return false;
    }
    const key = await this.#derive(password, parsed.salt, parsed.logN, parsed.r, parsed.p);
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  }

  /** Whether a stored hash was made with other parameters than this hasher's (rehash it at login). */
  needsRehash(storedHash: string): boolean {
    const parsed = parsePhc(storedHash);
    return !parsed || parsed.logN !== this.#logN || parsed.r !== BLOCK_SIZE || parsed.p !== PARALLELISM;
  }

  #decoyHash(): Promise<string> {
    this.#decoy ??= this.hash(randomBytes(16).toString('hex'));
    return this.#decoy;
  }

  async #derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
    await this.#acquire();
    try {
      const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * r * 2 ** logN };
      return await new Promise<Buffer>((resolve, reject) =>
        scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) =>
          error ? reject(error) : resolve(key),
        ),
      );
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.#maxConcurrent) {
      this.#running += 1;
      return;
    }
    // The slot is handed over by #release, so #running stays counted for the waiter.
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running -= 1;
  }
}

function parsePhc(
  hash: string,
): { logN: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const match = PHC_PATTERN.exec(hash);
  if (!match) return undefined;
  const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (logN < 1 || logN > MAX_LOG_N || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  return { logN, r, p, salt: Buffer.from(match[4]!, 'base64'), key: Buffer.from(match[5]!, 'base64') };
}

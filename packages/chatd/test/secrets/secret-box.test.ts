import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadOrCreateSecretsKey,
  parseSecretsKey,
  SecretBox,
  SecretDecryptionError,
} from '../../src/secrets/secret-box.js';
import { scratchDir } from '../support/scratch-dir.js';

describe('SecretBox', () => {
  it('round-trips, never repeats a ciphertext and never contains the plaintext', () => {
    const box = new SecretBox(randomBytes(32));
    const secret = 'sk-live-0123456789abcdef';
    const a = box.encrypt(secret);
    const b = box.encrypt(secret);
    expect(box.decrypt(a)).toBe(secret);
    expect(Buffer.compare(a, b)).not.toBe(0);
    expect(a.includes(Buffer.from(secret))).toBe(false);
    expect(box.decrypt(box.encrypt(''))).toBe('');
    expect(box.decrypt(box.encrypt('ключ 🔑'))).toBe('ключ 🔑');
  });

  it('refuses a box made with another key, or altered', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.encrypt('secret');
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed)).toThrow(SecretDecryptionError);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => box.decrypt(tampered)).toThrow(SecretDecryptionError);
    expect(() => box.decrypt(Buffer.from([9, 1, 2]))).toThrow(/unknown format/);
  });

  it('decrypts a box made before keyrings (format v1) as it is', () => {
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
    const wave1 = Buffer.from(
      '01c0a355adfc4bab2f7b8d99009a84487f8a69e70eca4bfc28813ce3865644716d6fe65ec47c57d36f4fd3c77b',
      'hex',
    );
    expect(new SecretBox(key).decrypt(wave1)).toBe('sk-wave1-fixture');
    expect(new SecretBox([randomBytes(32), key]).decrypt(wave1)).toBe('sk-wave1-fixture');
  });

  it('as a keyring, encrypts with the first key and decrypts with any', () => {
    const [next, current, older] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const ring = new SecretBox([next, current, older]);
    expect(ring.keyCount).toBe(3);
    const sealed = ring.encrypt('sk-new');
    expect(new SecretBox(next).decrypt(sealed)).toBe('sk-new');
    expect(() => new SecretBox(current).decrypt(sealed)).toThrow(SecretDecryptionError);
    expect(ring.decrypt(new SecretBox(current).encrypt('sk-current'))).toBe('sk-current');
    expect(ring.decrypt(new SecretBox(older).encrypt('sk-older'))).toBe('sk-older');
    expect(() => ring.decrypt(new SecretBox(randomBytes(32)).encrypt('x'))).toThrow(
      /any of the 3 secrets keys/,
    );
    expect(() => new SecretBox([])).toThrow(/at least one secrets key/);
    expect(() => new SecretBox([next, randomBytes(16)])).toThrow(/32 bytes/);
  });

  it('parses hex and base64 keys and rejects anything else without echoing it', () => {
    const key = randomBytes(32);
    expect(parseSecretsKey(key.toString('hex')).equals(key)).toBe(true);
    expect(parseSecretsKey(key.toString('base64')).equals(key)).toBe(true);
    expect(parseSecretsKey(key.toString('base64url')).equals(key)).toBe(true);
    expect(() => parseSecretsKey('too-short-secret')).toThrow(/32 bytes/);
    try {
      parseSecretsKey('too-short-secret');
    } catch (error) {
      expect((error as Error).message).not.toContain('too-short-secret');
    }
  });

  it('generates the embedded key once, with 0600 permissions', async () => {
    const dir = await scratchDir('chatd-secrets-');
    const [first, second] = await Promise.all([loadOrCreateSecretsKey(dir), loadOrCreateSecretsKey(dir)]);
    expect(first.equals(second)).toBe(true);
    expect((await loadOrCreateSecretsKey(dir)).equals(first)).toBe(true);
    expect((await stat(path.join(dir, 'secrets-key'))).mode & 0o777).toBe(0o600);
    expect((await readFile(path.join(dir, 'secrets-key'), 'utf8')).trim()).toBe(first.toString('hex'));
  });

  it('creates a missing cache dir and its parents private (0700) before generating the key', async () => {
    const root = await scratchDir('chatd-secrets-');
    const dir = path.join(root, 'home', '.cache', 'chatd');
    const key = await loadOrCreateSecretsKey(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.dirname(dir))).mode & 0o777).toBe(0o700);
    expect((await loadOrCreateSecretsKey(dir)).equals(key)).toBe(true);
  });
});

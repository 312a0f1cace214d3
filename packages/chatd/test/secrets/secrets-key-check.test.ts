import { createHash, randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/secrets/secret-box.js';
import {
  keyIndexOfCheck,
  SecretsKeyMismatchError,
  secretsKeyCheck,
  verifySecretsKeys,
} from '../../src/secrets/secrets-key-check.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();
const key = () => randomBytes(32);

/** A provider whose API key is `box` (a deployment from before the check stored it). */
async function storeProvider(box: Buffer | null): Promise<string> {
  const row = await db.store.insertChatProvider({
    provider: 'openai',
    displayName: `provider ${randomBytes(3).toString('hex')}`,
    apiKeyEncrypted: box,
    baseUrl: null,
    enabled: true,
  });
  return row.id;
}

async function rejection(promise: Promise<unknown>): Promise<SecretsKeyMismatchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecretsKeyMismatchError);
  return error as SecretsKeyMismatchError;
}

describe('the check value of a secrets key', () => {
  it('is 32 bytes, the same for the same key, another for another key, and reveals nothing of the key', () => {
    const a = key();
    const check = secretsKeyCheck(a);
    expect(check).toHaveLength(32);
    expect(secretsKeyCheck(Buffer.from(a)).equals(check)).toBe(true);
    expect(secretsKeyCheck(key()).equals(check)).toBe(false);
    expect(check.equals(a)).toBe(false);
    expect(check.equals(createHash('sha256').update(a).digest())).toBe(false);
    expect(check.includes(a.subarray(0, 8))).toBe(false);
  });

  it('finds the key of a list that it belongs to', () => {
    const [a, b, c] = [key(), key(), key()];
    expect(keyIndexOfCheck([a, b, c], secretsKeyCheck(b))).toBe(1);
    expect(keyIndexOfCheck([a, c], secretsKeyCheck(b))).toBe(-1);
    expect(keyIndexOfCheck([a], Buffer.alloc(5))).toBe(-1);
  });
});

describe('the start check', () => {
  beforeEach(async () => {
    await db.sql`DELETE FROM secrets_key_check`;
    await db.sql`DELETE FROM chat_providers`;
  });

  it('records the key on the first start, then passes it and refuses another, naming the flags', async () => {
    const [mine, other] = [key(), key()];
    expect(await verifySecretsKeys(db.store, [mine])).toEqual({
      recordedKeyIndex: 0,
      recordedNow: true,
      verifiedSecrets: 0,
    });
    expect((await db.store.getSecretsKeyCheck())?.equals(secretsKeyCheck(mine))).toBe(true);
    expect(await verifySecretsKeys(db.store, [mine])).toMatchObject({
      recordedKeyIndex: 0,
      recordedNow: false,
    });

    const refused = await rejection(verifySecretsKeys(db.store, [other]));
    expect(refused.code).toBe('E_SECRETS_KEY_MISMATCH');
    expect(refused.message).toMatch(/^the secrets key of this replica is not the one this database records/);
    expect(refused.message).toContain('--secrets-key');
    expect(refused.message).toContain('chatd secrets rotate');
    for (const secret of [mine, other]) {
      expect(refused.message).not.toContain(secret.toString('hex'));
      expect(refused.message).not.toContain(secret.toString('base64'));
    }
    const generated = await rejection(
      verifySecretsKeys(db.store, [other], { generatedKeyFile: '/home/x/.cache/chatd/secrets-key' }),
    );
    expect(generated.message).toMatch(
      /^no --secrets-key was given, so this replica generated its own secrets key in \/home\/x\/\.cache\/chatd\/secrets-key/,
    );
    expect((await db.store.getSecretsKeyCheck())?.equals(secretsKeyCheck(mine))).toBe(true);
  });

  it('passes a list that holds the recorded key anywhere, and says where', async () => {
    const [next, current] = [key(), key()];
    await verifySecretsKeys(db.store, [current]);
    expect(await verifySecretsKeys(db.store, [next, current])).toMatchObject({
      recordedKeyIndex: 1,
      recordedNow: false,
    });
    const refused = await rejection(verifySecretsKeys(db.store, [next, key()]));
    expect(refused.message).toMatch(/^none of the 2 secrets keys of this replica is the one/);
  });

  it('on a database from before the check, records a key only after it decrypts every stored API key', async () => {
    const [old, next] = [key(), key()];
    const sealer = new SecretBox(old);
    await storeProvider(sealer.encrypt('sk-one'));
    await storeProvider(sealer.encrypt('sk-two'));
    await storeProvider(null);

    const refused = await rejection(verifySecretsKeys(db.store, [next]));
    expect(refused.message).toMatch(
      /^2 of the 2 provider API keys stored in this database cannot be decrypted/,
    );
    expect(await db.store.getSecretsKeyCheck()).toBeUndefined();

    // The list holds the old key: that is the one the stored keys need, so it is recorded.
    expect(await verifySecretsKeys(db.store, [next, old])).toEqual({
      recordedKeyIndex: 1,
      recordedNow: true,
      verifiedSecrets: 2,
    });
    expect((await db.store.getSecretsKeyCheck())?.equals(secretsKeyCheck(old))).toBe(true);
    expect(await verifySecretsKeys(db.store, [old])).toMatchObject({ recordedKeyIndex: 0 });
  });

  it('refuses stored API keys encrypted with different keys, even given both, and says to rotate', async () => {
    const [a, b] = [key(), key()];
    await storeProvider(new SecretBox(a).encrypt('sk-a'));
    await storeProvider(new SecretBox(b).encrypt('sk-b'));
    const refused = await rejection(verifySecretsKeys(db.store, [a, b]));
    expect(refused.message).toMatch(/encrypted with different secrets keys/);
    expect(refused.message).toContain('chatd secrets rotate');
    expect(await db.store.getSecretsKeyCheck()).toBeUndefined();
  });

  it('lets replicas racing at their first start agree on one key', async () => {
    const keys = Array.from({ length: 6 }, key);
    // Three replicas with key 0, three with others, all at once on a database with no check yet.
    const results = await Promise.allSettled(
      [keys[0]!, keys[0]!, keys[0]!, keys[1]!, keys[2]!, keys[3]!].map((k) =>
        verifySecretsKeys(db.store, [k]),
      ),
    );
    const recorded = await db.store.getSecretsKeyCheck();
    const winner = keys.findIndex((k) => secretsKeyCheck(k).equals(recorded!));
    expect(winner).toBeGreaterThanOrEqual(0);
    const startedWith = [0, 0, 0, 1, 2, 3].filter((_, i) => results[i]!.status === 'fulfilled');
    expect(new Set(startedWith)).toEqual(new Set([winner]));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.recordedNow)).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(SecretsKeyMismatchError);
    }
  });
});

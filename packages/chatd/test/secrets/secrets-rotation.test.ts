import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretBox, SecretDecryptionError } from '../../src/secrets/secret-box.js';
import {
  SecretsKeyMismatchError,
  secretsKeyCheck,
  verifySecretsKeys,
} from '../../src/secrets/secrets-key-check.js';
import { rotateSecretsKey } from '../../src/secrets/secrets-rotation.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();
const key = () => randomBytes(32);

async function storeProvider(displayName: string, box: Buffer | null): Promise<string> {
  const row = await db.store.insertChatProvider({
    provider: 'openai',
    displayName,
    apiKeyEncrypted: box,
    baseUrl: null,
    enabled: true,
  });
  return row.id;
}

/** Every provider's stored box, by id. */
async function storedBoxes(): Promise<Map<string, Buffer | null>> {
  const rows = await db.store.listChatProviders();
  return new Map(rows.map((row) => [row.id, row.apiKeyEncrypted]));
}

describe('chatd secrets rotate', () => {
  beforeEach(async () => {
    await db.sql`DELETE FROM secrets_key_check`;
    await db.sql`DELETE FROM chat_providers`;
  });

  it('re-encrypts every stored API key with the first key and records it; the replicas are told', async () => {
    const [old, next] = [key(), key()];
    await verifySecretsKeys(db.store, [old]);
    const sealer = new SecretBox(old);
    const one = await storeProvider('one', sealer.encrypt('sk-one'));
    const two = await storeProvider('two', sealer.encrypt('sk-two'));
    const keyless = await storeProvider('keyless', null);
    const versionBefore = await db.store.getConfigVersion();

    expect(await rotateSecretsKey(db.store, [next, old])).toEqual({ reencrypted: 2, previousKeyIndex: 1 });

    const boxes = await storedBoxes();
    const onlyNew = new SecretBox(next);
    expect(onlyNew.decrypt(boxes.get(one)!)).toBe('sk-one');
    expect(onlyNew.decrypt(boxes.get(two)!)).toBe('sk-two');
    expect(() => sealer.decrypt(boxes.get(one)!)).toThrow(SecretDecryptionError);
    expect(boxes.get(keyless)).toBeNull();
    expect((await db.store.getSecretsKeyCheck())?.equals(secretsKeyCheck(next))).toBe(true);
    // The config-change trigger fired for each rewritten row: every replica reloads the providers.
    expect(await db.store.getConfigVersion()).toBe(versionBefore + 2);
    // The old key alone no longer starts; the new one does.
    await expect(verifySecretsKeys(db.store, [old])).rejects.toBeInstanceOf(SecretsKeyMismatchError);
    expect(await verifySecretsKeys(db.store, [next])).toMatchObject({ recordedKeyIndex: 0 });
  });

  it('changes nothing when one stored API key decrypts with none of the keys', async () => {
    const [old, next, stranger] = [key(), key(), key()];
    await verifySecretsKeys(db.store, [old]);
    await storeProvider('fine', new SecretBox(old).encrypt('sk-fine'));
    const orphan = await storeProvider('orphan', new SecretBox(stranger).encrypt('sk-orphan'));
    await storeProvider('also fine', new SecretBox(old).encrypt('sk-also'));
    const before = await storedBoxes();
    const versionBefore = await db.store.getConfigVersion();

    const error = await rotateSecretsKey(db.store, [next, old]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretDecryptionError);
    expect((error as Error).message).toContain(`provider 'orphan' (${orphan})`);
    expect((error as Error).message).toContain('nothing was changed');

    expect(await storedBoxes()).toEqual(before);
    expect((await db.store.getSecretsKeyCheck())?.equals(secretsKeyCheck(old))).toBe(true);
    expect(await db.store.getConfigVersion()).toBe(versionBefore);
  });

  it('refuses a list without the key the database records, changing nothing', async () => {
    const [current, next] = [key(), key()];
    await verifySecretsKeys(db.store, [current]);
    const before = await storedBoxes();
    await expect(rotateSecretsKey(db.store, [next])).rejects.toThrow(
      /none of the 1 secrets keys given is the one this database records/,
    );
    expect((await db.store.getSecretsKeyCheck())?.equals(secretsKeyCheck(current))).toBe(true);
    expect(await storedBoxes()).toEqual(before);
  });

  it('brings a database from before the check, with keys from several replicas, onto one key', async () => {
    const [a, b, next] = [key(), key(), key()];
    const fromA = await storeProvider('from a', new SecretBox(a).encrypt('sk-a'));
    const fromB = await storeProvider('from b', new SecretBox(b).encrypt('sk-b'));
    await expect(verifySecretsKeys(db.store, [a, b])).rejects.toThrow(/different secrets keys/);

    expect(await rotateSecretsKey(db.store, [next, a, b])).toEqual({ reencrypted: 2, previousKeyIndex: -1 });
    const boxes = await storedBoxes();
    expect(new SecretBox(next).decrypt(boxes.get(fromA)!)).toBe('sk-a');
    expect(new SecretBox(next).decrypt(boxes.get(fromB)!)).toBe('sk-b');
    expect(await verifySecretsKeys(db.store, [next])).toMatchObject({
      recordedKeyIndex: 0,
      recordedNow: false,
    });
  });
});

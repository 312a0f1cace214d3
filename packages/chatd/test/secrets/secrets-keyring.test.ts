import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseSecretsKeyList,
  readSecretsKeyFile,
  secretsKeyFileWarning,
} from '../../src/secrets/secrets-keyring.js';
import { scratchDir } from '../support/scratch-dir.js';

const key = () => randomBytes(32);

describe('secrets key lists', () => {
  it('reads one key, or a list separated by commas or newlines, first key first', () => {
    const [a, b, c] = [key(), key(), key()];
    expect(parseSecretsKeyList(a.toString('hex'))).toEqual([a]);
    expect(parseSecretsKeyList(`${a.toString('hex')},${b.toString('base64')}`)).toEqual([a, b]);
    expect(
      parseSecretsKeyList(
        `# the new key first\n  ${a.toString('hex')}  \r\n\n${b.toString('hex')}, ${c.toString('base64url')}\n`,
      ),
    ).toEqual([a, b, c]);
    expect(parseSecretsKeyList(`${a.toString('hex')},${a.toString('base64')}`)).toEqual([a]);
  });

  it('rejects an empty list and a malformed entry, saying which, never echoing it', () => {
    expect(() => parseSecretsKeyList(' , \n# only a comment\n')).toThrow(/no secrets key given/);
    const bad = 'not-a-key-but-secret-looking';
    let message = '';
    try {
      parseSecretsKeyList(`${key().toString('hex')},${bad}`);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^key 2 of 2: the secrets key must be 32 bytes/);
    expect(message).not.toContain(bad);
    expect(() => parseSecretsKeyList(bad)).toThrow(/^the secrets key must be 32 bytes/);
  });

  it('reads a key file, and names the file when it cannot', async () => {
    const dir = await scratchDir('chatd-keyfile-');
    const [a, b] = [key(), key()];
    const file = path.join(dir, 'keys');
    await writeFile(file, `${a.toString('hex')}\n${b.toString('hex')}\n`, { mode: 0o600 });
    expect(await readSecretsKeyFile(file)).toEqual([a, b]);

    await expect(readSecretsKeyFile(path.join(dir, 'missing'))).rejects.toThrow(
      `cannot read the secrets key file ${path.join(dir, 'missing')} (ENOENT)`,
    );
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '\n');
    await expect(readSecretsKeyFile(empty)).rejects.toThrow(
      `the secrets key file ${empty}: no secrets key given`,
    );
    if (process.getuid?.() !== 0) {
      await chmod(file, 0o000);
      await expect(readSecretsKeyFile(file)).rejects.toThrow(/\(EACCES\)/);
    }
  });
});

describe('secrets key file permissions', () => {
  it('warns when other users can read the file, and not when only its owner can', async () => {
    const dir = await scratchDir('chatd-keymode-');
    const file = path.join(dir, 'secrets-key');
    await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    expect(await secretsKeyFileWarning(file)).toBeUndefined();
    await chmod(file, 0o644);
    expect(await secretsKeyFileWarning(file)).toBe(
      `the secrets key file ${file} is readable by other users (mode 0644): chmod 600 it`,
    );
    expect(await secretsKeyFileWarning(path.join(dir, 'missing'))).toBeUndefined();
  });
});

import { Command } from 'commander';
import { rotateSecretsKey } from '../secrets/secrets-rotation.js';
import { databaseOptions, resolveDatabaseOptions } from './options.js';
import { resolveSecretsKeys, secretsKeyOptions } from './secrets-options.js';
import { withDatabase } from './with-database.js';

/** `chatd secrets …`: the secrets key that encrypts provider API keys at rest. */
export function secretsCommand(): Command {
  const secrets = new Command('secrets').description(
    'manage the secrets key that encrypts provider API keys at rest',
  );
  const rotate = secrets
    .command('rotate')
    .description(
      "re-encrypt every stored provider API key with the first key of --secrets-key and record it as the database's key, in one transaction (all or nothing). Procedure: restart every replica with --secrets-key NEW,OLD; run chatd secrets rotate --secrets-key NEW,OLD; restart every replica with --secrets-key NEW",
    );
  for (const option of secretsKeyOptions({
    key: 'NEW,OLD: the new key first (32 bytes as 64 hex characters or base64; generate one with: openssl rand -hex 32), then the key(s) the stored provider API keys are encrypted with now, comma- or newline-separated. Required (or --secrets-key-file)',
    file: 'read that list from this file (one key per line, or comma-separated) so that it does not show in ps; not with --secrets-key',
  })) {
    rotate.addOption(option);
  }
  for (const option of databaseOptions()) rotate.addOption(option);
  rotate.action(async (_options: unknown, command: Command) => {
    const keys = await resolveSecretsKeys(command);
    if (!keys) {
      return command.error(
        'error: give the keys with --secrets-key NEW,OLD (or --secrets-key-file): the new key first, then the current one',
      );
    }
    const database = await resolveDatabaseOptions(command);
    const result = await withDatabase(database, (_sql, store) => rotateSecretsKey(store, keys));
    const noun = result.reencrypted === 1 ? 'provider API key' : 'provider API keys';
    process.stdout.write(
      `re-encrypted ${result.reencrypted} ${noun} with the first secrets key, now the database's key.\n` +
        'Restart every replica with that key alone (--secrets-key NEW): a replica with only the old key no longer starts.\n',
    );
  });
  return secrets;
}

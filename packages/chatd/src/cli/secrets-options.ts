import { type Command, Option } from 'commander';
import {
  parseSecretsKeyList,
  readSecretsKeyFile,
  secretsKeyFileWarning,
} from '../secrets/secrets-keyring.js';

/** What the secrets key flags say in one command's `--help`. */
export interface SecretsKeyHelp {
  readonly key: string;
  readonly file: string;
}

/**
 * `--secrets-key <keys>` and `--secrets-key-file <path>` (one or the other), with their `CHATD_*`
 * variables. The value is parsed in the action ({@link resolveSecretsKeys}), not by commander: its
 * "argument '…' is invalid" message would print the key.
 */
export function secretsKeyOptions(help: SecretsKeyHelp): Option[] {
  return [
    new Option('--secrets-key <keys>', help.key).env('CHATD_SECRETS_KEY').conflicts('secretsKeyFile'),
    new Option('--secrets-key-file <path>', help.file).env('CHATD_SECRETS_KEY_FILE'),
  ];
}

/**
 * The secrets keys a parsed command was given, first key first; undefined when neither flag (nor
 * variable) is set. A malformed list ends the command with a usage error that never shows a key.
 */
export async function resolveSecretsKeys(command: Command): Promise<Buffer[] | undefined> {
  const { secretsKey, secretsKeyFile } = command.opts<{ secretsKey?: string; secretsKeyFile?: string }>();
  try {
    if (secretsKey !== undefined) return parseSecretsKeyList(secretsKey);
    if (secretsKeyFile !== undefined) {
      const keys = await readSecretsKeyFile(secretsKeyFile);
      const warning = await secretsKeyFileWarning(secretsKeyFile);
      if (warning) process.stderr.write(`chatd: warning: ${warning}\n`);
      return keys;
    }
    return undefined;
  } catch (error) {
    const flag = secretsKey !== undefined ? '--secrets-key' : '--secrets-key-file';
    return command.error(`error: ${flag}: ${(error as Error).message}`);
  }
}

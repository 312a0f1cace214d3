import { Command, InvalidArgumentError } from 'commander';
import { issueApiToken, listApiTokens } from '../auth/api-tokens.js';
import { NotFoundError } from '../errors.js';
import { resolveDatabaseOptions } from './options.js';
import { requireUser, withDatabaseFlags } from './users-command.js';
import { withDatabase } from './with-database.js';

const DAY_MS = 86_400_000;
const LIFETIME_UNITS_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: DAY_MS };

/** `chatd tokens create|list|revoke`. */
export function tokensCommand(): Command {
  const tokens = new Command('tokens').description("manage users' API tokens");

  const create = withDatabaseFlags(
    tokens
      .command('create')
      .description('issue an API token for a user and print it (shown once)')
      .argument('<username>', 'the user the token acts as')
      .option('--name <name>', 'a name that says what the token is for', 'cli')
      .option(
        '--expires-in <duration>',
        'the token stops working after this long (30m, 12h, 90d); default never',
        lifetime,
      ),
  );
  create.action(async (username: string, _options: unknown, command: Command) => {
    const { name, expiresIn } = command.opts<{ name: string; expiresIn?: number }>();
    const issued = await withDatabase(await resolveDatabaseOptions(command), async (_sql, store) =>
      issueApiToken(store, (await requireUser(store, username)).id, name, expiresIn),
    );
    const expiry = issued.expiresAt ? `; it expires at ${issued.expiresAt.toISOString()}` : '';
    process.stdout.write(
      `Issued token '${issued.name}' (${issued.id}) for '${username}'${expiry}. The token is:\n\n` +
        `    ${issued.token}\n\nStore it now: it will not be shown again.\n`,
    );
  });

  const list = withDatabaseFlags(
    tokens
      .command('list')
      .description("list a user's tokens (never the tokens themselves)")
      .argument('<username>'),
  );
  list.action(async (username: string, _options: unknown, command: Command) => {
    const rows = await withDatabase(await resolveDatabaseOptions(command), async (_sql, store) =>
      listApiTokens(store, (await requireUser(store, username)).id),
    );
    const when = (date: Date | null) => (date ? date.toISOString() : '-').padEnd(24);
    process.stdout.write(
      `${['ID'.padEnd(36), 'CREATED'.padEnd(24), 'LAST USED'.padEnd(24), 'EXPIRES'.padEnd(24), 'NAME'].join(' ')}\n`,
    );
    for (const row of rows) {
      process.stdout.write(
        `${[row.id, when(row.createdAt), when(row.lastUsedAt), when(row.expiresAt), row.name].join(' ')}\n`,
      );
    }
  });

  const revoke = withDatabaseFlags(
    tokens
      .command('revoke')
      .description('revoke a token by id: refused at once on every replica, its open streams closed')
      .argument('<token-id>', 'the id `chatd tokens list` shows'),
  );
  revoke.action(async (tokenId: string, _options: unknown, command: Command) => {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(tokenId)) {
      throw new InvalidArgumentError(
        `'${tokenId}' is not a token id (a UUID, as \`chatd tokens list\` shows)`,
      );
    }
    const revoked = await withDatabase(await resolveDatabaseOptions(command), (_sql, store) =>
      store.deleteApiTokenById(tokenId),
    );
    if (!revoked) throw new NotFoundError(`no token with id ${tokenId}`);
    process.stdout.write(`Revoked token ${tokenId}.\n`);
  });
  return tokens;
}

function lifetime(value: string): number {
  const match = /^(\d{1,6})(m|h|d)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a duration such as 30m, 12h or 90d');
  return Number(match[1]) * LIFETIME_UNITS_MS[match[2]!]!;
}

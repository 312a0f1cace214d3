import { Command } from 'commander';
import { createUserWithToken } from '../auth/users.js';
import { migrate } from '../db/migrate.js';
import { databaseOptions, resolveDatabaseOptions } from './options.js';
import { scaletestCommand } from './scaletest-command.js';
import { secretsCommand } from './secrets-command.js';
import { serverCommand } from './server-command.js';
import { withDatabase } from './with-database.js';

/** Builds the `chatd` command line (`main.ts` runs it; tests inspect help and parse errors). */
export function buildProgram(): Command {
  const program = new Command('chatd')
    .description(
      'chatd: a self-hosted AI chat daemon. Every flag can also be set with the CHATD_* variable shown.',
    )
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  program.addCommand(serverCommand());
  program.addCommand(scaletestCommand());
  program.addCommand(secretsCommand());

  const migrateCommand = program.command('migrate').description('apply database migrations and exit');
  for (const option of databaseOptions()) migrateCommand.addOption(option);
  migrateCommand.action(async (_options: unknown, command: Command) => {
    const options = await resolveDatabaseOptions(command);
    const result = await withDatabase(options, (sql) => migrate(sql));
    process.stdout.write(
      result.applied.length > 0
        ? `applied migrations ${result.applied.join(', ')}; schema version ${result.version}\n`
        : `schema is up to date (version ${result.version})\n`,
    );
  });

  const users = program.command('users').description('manage users');
  const create = users
    .command('create')
    .description('create a user and print its API token (shown once)')
    .argument('<name>', 'username: letters, digits, ".", "_" or "-", at most 64 characters')
    .option('--admin', 'give the user the admin role (default: member)', false);
  for (const option of databaseOptions()) create.addOption(option);
  create.action(async (name: string, _options: unknown, command: Command) => {
    const options = await resolveDatabaseOptions(command);
    const { admin } = command.opts<{ admin: boolean }>();
    const created = await withDatabase(options, (_sql, store) =>
      createUserWithToken(store, { username: name, role: admin ? 'admin' : 'member' }),
    );
    process.stdout.write(
      `Created ${created.user.role} '${created.user.username}' (${created.user.id}). Its API token is:\n\n` +
        `    ${created.token}\n\nStore it now: it will not be shown again.\n`,
    );
  });

  // Commands built on their own (addCommand) do not inherit settings: apply them everywhere.
  const applyEverywhere = (command: Command) => {
    command.showHelpAfterError();
    for (const sub of command.commands) applyEverywhere(sub);
  };
  applyEverywhere(program);
  return program;
}

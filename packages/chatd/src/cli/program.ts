import { Command } from 'commander';
import { migrate } from '../db/migrate.js';
import { openapiCommand } from './openapi-command.js';
import { databaseOptions, resolveDatabaseOptions } from './options.js';
import { scaletestCommand } from './scaletest-command.js';
import { secretsCommand } from './secrets-command.js';
import { migrationLockTimeoutOption, serverCommand } from './server-command.js';
import { tokensCommand } from './tokens-command.js';
import { usersCommand } from './users-command.js';
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
  migrateCommand.addOption(migrationLockTimeoutOption());
  migrateCommand.action(async (_options: unknown, command: Command) => {
    const options = await resolveDatabaseOptions(command);
    const lockTimeoutMs = command.opts<{ migrationLockTimeout: number }>().migrationLockTimeout;
    const result = await withDatabase(
      options,
      (sql, _store, logger) => migrate(sql, undefined, { lockTimeoutMs, logger }),
      { migrate: false },
    );
    process.stdout.write(
      result.applied.length > 0
        ? `applied migrations ${result.applied.join(', ')}; schema version ${result.version}\n`
        : `schema is up to date (version ${result.version})\n`,
    );
  });

  program.addCommand(usersCommand());
  program.addCommand(tokensCommand());
  program.addCommand(openapiCommand());

  // Commands built on their own (addCommand) do not inherit settings: apply them everywhere.
  const applyEverywhere = (command: Command) => {
    command.showHelpAfterError();
    for (const sub of command.commands) applyEverywhere(sub);
  };
  applyEverywhere(program);
  return program;
}

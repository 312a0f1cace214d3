import { Command, InvalidArgumentError, Option } from 'commander';
import { createUserWithToken } from '../auth/users.js';
import { migrate } from '../db/migrate.js';
import { type ListenAddress, parseListenAddress } from '../http/server.js';
import { createLogger } from '../logging/logger.js';
import { startChatdServer } from './chatd-server.js';
import { databaseOptions, resolveDatabaseOptions } from './options.js';
import { withDatabase } from './with-database.js';

/** Builds the `chatd` command line (`main.ts` runs it; tests inspect help and parse errors). */
export function buildProgram(): Command {
  const program = new Command('chatd')
    .description(
      'chatd: a self-hosted AI chat daemon. Every flag can also be set with the CHATD_* variable shown.',
    )
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  const server = program
    .command('server')
    .description('start the chatd server (applies migrations; creates the first admin on an empty database)')
    .addOption(
      new Option('--http-address <host:port>', 'address the HTTP API listens on')
        .env('CHATD_HTTP_ADDRESS')
        .default('127.0.0.1:3000')
        .argParser(parseAddressOption),
    );
  for (const option of databaseOptions()) server.addOption(option);
  server.action(async (_options: unknown, command: Command) => {
    const options = await resolveDatabaseOptions(command);
    const httpAddress = command.opts<{ httpAddress: string | ListenAddress }>().httpAddress;
    const logger = createLogger(options.logLevel);
    const chatd = await startChatdServer({
      httpAddress: typeof httpAddress === 'string' ? parseListenAddress(httpAddress) : httpAddress,
      postgresUrl: options.postgresUrl,
      cacheDir: options.cacheDir,
      logger,
    });
    const lines = [`chatd is ready at ${chatd.url}`];
    if (chatd.firstAdmin) {
      lines.push(
        '',
        `Created the first admin user '${chatd.firstAdmin.user.username}'. Its API token is:`,
        '',
        `    ${chatd.firstAdmin.token}`,
        '',
        'Store it now: it will not be shown again. Use it as "Authorization: Bearer <token>".',
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    await waitForShutdownSignal();
    logger.info('shutting down');
    await chatd.close();
    logger.flush();
  });

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

  return program;
}

function parseAddressOption(value: string) {
  try {
    return parseListenAddress(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function waitForShutdownSignal(): Promise<void> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        process.stderr.write(`chatd: second ${signal}, exiting without a clean shutdown\n`);
        process.exit(130);
      }
      received = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

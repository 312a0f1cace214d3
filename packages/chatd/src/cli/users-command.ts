import { Command } from 'commander';
import { PasswordHasher } from '../auth/passwords.js';
import { changeUserAccess, listUsers, setUserPassword } from '../auth/people.js';
import { createUserWithToken } from '../auth/users.js';
import type { UserRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { NotFoundError } from '../errors.js';
import { databaseOptions, resolveDatabaseOptions } from './options.js';
import { readPassword } from './password-input.js';
import { withDatabase } from './with-database.js';

/** `chatd users list|create|disable|enable|set-password`. */
export function usersCommand(): Command {
  const users = new Command('users').description('manage the people who use chatd');

  const list = withDatabaseFlags(users.command('list').description('list every user'));
  list.action(async (_options: unknown, command: Command) => {
    const rows = await withDatabase(await resolveDatabaseOptions(command), async (_sql, store) => {
      const all: UserRow[] = [];
      let cursor: string | undefined;
      do {
        const page = await listUsers(store, { limit: 200, cursor });
        all.push(...page.users);
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    });
    const lines = rows.map((user) =>
      [
        user.username.padEnd(24),
        user.role.padEnd(7),
        (user.disabledAt ? 'disabled' : 'active').padEnd(9),
        (user.hasPassword ? 'password' : 'token only').padEnd(11),
        user.id,
      ].join(' '),
    );
    process.stdout.write(
      `${['USERNAME'.padEnd(24), 'ROLE   ', 'STATE    ', 'LOGIN      ', 'ID'].join(' ')}\n`,
    );
    process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
  });

  const create = withDatabaseFlags(
    users
      .command('create')
      .description('create a user and print its API token (shown once)')
      .argument('<name>', 'username: letters, digits, ".", "_" or "-", at most 64 characters')
      .option('--admin', 'give the user the admin role (default: member)', false)
      .option('--with-password', 'also set a password for browser login, read from stdin or prompted', false),
  );
  create.action(async (name: string, _options: unknown, command: Command) => {
    const { admin, withPassword } = command.opts<{ admin: boolean; withPassword: boolean }>();
    const password = withPassword ? await readPassword(`Password for ${name}`) : undefined;
    const created = await withDatabase(await resolveDatabaseOptions(command), (_sql, store) =>
      createUserWithToken(
        store,
        { username: name, role: admin ? 'admin' : 'member', password },
        new PasswordHasher(),
      ),
    );
    process.stdout.write(
      `Created ${created.user.role} '${created.user.username}' (${created.user.id}). Its API token is:\n\n` +
        `    ${created.token}\n\nStore it now: it will not be shown again.\n`,
    );
  });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    const toggle = withDatabaseFlags(
      users
        .command(verb)
        .description(
          disabled
            ? 'disable a user: their sessions and tokens end at once, on every replica, and their streams close'
            : 'enable a disabled user again (they log in anew; their old tokens stay revoked)',
        )
        .argument('<name>', 'username'),
    );
    toggle.action(async (name: string, _options: unknown, command: Command) => {
      const user = await withDatabase(await resolveDatabaseOptions(command), async (_sql, store) =>
        changeUserAccess(store, 'operator', (await requireUser(store, name)).id, { disabled }),
      );
      process.stdout.write(`${disabled ? 'Disabled' : 'Enabled'} '${user.username}'.\n`);
    });
  }

  const setPassword = withDatabaseFlags(
    users
      .command('set-password')
      .description(
        "set a user's password (read from stdin, or prompted on a terminal; never a flag, which ps would show); their sessions end",
      )
      .argument('<name>', 'username'),
  );
  setPassword.action(async (name: string, _options: unknown, command: Command) => {
    const password = await readPassword(`New password for ${name}`);
    await withDatabase(await resolveDatabaseOptions(command), async (_sql, store) =>
      setUserPassword(store, new PasswordHasher(), (await requireUser(store, name)).id, password),
    );
    process.stdout.write(`Set the password of '${name}'.\n`);
  });
  return users;
}

/** The user with this name. @throws {NotFoundError} naming it. */
export async function requireUser(store: Store, username: string): Promise<UserRow> {
  const user = await store.getUserByUsername(username);
  if (!user) throw new NotFoundError(`no user named '${username}'`);
  return user;
}

/** Adds `--postgres-url`, `--cache-dir` and `--log-level` to a one-shot command. */
export function withDatabaseFlags(command: Command): Command {
  for (const option of databaseOptions()) command.addOption(option);
  return command;
}

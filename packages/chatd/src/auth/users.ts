import type { UserRole, UserRow } from '../db/rows.js';
import { SqlState, sqlStateOf } from '../db/sqlstate.js';
import type { Store } from '../db/store.js';
import { ConflictError, InvalidInputError } from '../errors.js';
import { issueApiToken } from './api-tokens.js';

/** The rule the database enforces too (users.username CHECK); checked here for a readable error. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A new user and their first API token (in clear: show it once). */
export interface CreatedUser {
  readonly user: UserRow;
  readonly token: string;
}

/** Creates a user with a first API token, in one transaction. */
export async function createUserWithToken(
  store: Store,
  input: { username: string; role: UserRole },
): Promise<CreatedUser> {
  if (!USERNAME_PATTERN.test(input.username)) {
    throw new InvalidInputError(
      'username must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  try {
    return await store.transaction(async (tx) => {
      const user = await tx.insertUser(input);
      const token = await issueApiToken(tx, user.id, 'default');
      return { user, token };
    });
  } catch (error) {
    if (sqlStateOf(error) === SqlState.uniqueViolation) {
      throw new ConflictError(`a user named '${input.username}' already exists`, { cause: error });
    }
    throw error;
  }
}

/** The username of the admin created on first start. */
export const FIRST_ADMIN_USERNAME = 'admin';

/**
 * Creates the first admin when the database has no user yet; returns it with its token, or undefined
 * when users exist. Replicas starting together serialise on an advisory lock, so exactly one admin is
 * created.
 */
export async function createFirstAdminIfNoUsers(store: Store): Promise<CreatedUser | undefined> {
  return store.transaction(async (tx) => {
    await tx.lockUserBootstrap();
    if ((await tx.countUsers()) > 0) return undefined;
    const user = await tx.insertUser({ username: FIRST_ADMIN_USERNAME, role: 'admin' });
    const token = await issueApiToken(tx, user.id, 'first start');
    return { user, token };
  });
}

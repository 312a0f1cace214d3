import { randomBytes } from 'node:crypto';
import type { UserRole, UserRow } from '../db/rows.js';
import { SqlState, sqlStateOf } from '../db/sqlstate.js';
import type { Store } from '../db/store.js';
import { ConflictError, InvalidInputError } from '../errors.js';
import { issueApiToken } from './api-tokens.js';
import { type PasswordHasher, requireAcceptablePassword } from './passwords.js';

/** The rule the database enforces too (users.username CHECK); checked here for a readable error. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A new user and their first API token (in clear: show it once). */
export interface CreatedUser {
  readonly user: UserRow;
  readonly token: string;
}

/** What a new user is made of; a password needs the hasher. */
export interface NewUser {
  readonly username: string;
  readonly role: UserRole;
  readonly password?: string | undefined;
}

/** Creates a user (with a password when given) and a first API token, in one transaction. */
export async function createUserWithToken(
  store: Store,
  input: NewUser,
  passwords?: PasswordHasher,
): Promise<CreatedUser> {
  if (!USERNAME_PATTERN.test(input.username)) {
    throw new InvalidInputError(
      'username must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  let passwordHash: string | null = null;
  if (input.password !== undefined) {
    requireAcceptablePassword(input.password);
    if (!passwords) throw new Error('createUserWithToken: a password needs a PasswordHasher');
    passwordHash = await passwords.hash(input.password);
  }
  try {
    return await store.transaction(async (tx) => {
      const user = await tx.insertUser({ username: input.username, role: input.role, passwordHash });
      const { token } = await issueApiToken(tx, user.id, 'default');
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

/** The first admin: a token for scripts and, when a hasher was given, a generated password for the browser. */
export interface CreatedFirstAdmin extends CreatedUser {
  readonly password: string | undefined;
}

/**
 * Creates the first admin when the database has no user yet; returns it with its token (and a generated
 * password when `passwords` is given), or undefined when users exist. Replicas starting together
 * serialise on an advisory lock, so exactly one admin is created.
 */
export async function createFirstAdminIfNoUsers(
  store: Store,
  passwords?: PasswordHasher,
): Promise<CreatedFirstAdmin | undefined> {
  return store.transaction(async (tx) => {
    await tx.lockUserBootstrap();
    if ((await tx.countUsers()) > 0) return undefined;
    // 18 random bytes: 24 characters of base64url, far past the minimum length.
    const password = passwords ? randomBytes(18).toString('base64url') : undefined;
    const passwordHash = password && passwords ? await passwords.hash(password) : null;
    const user = await tx.insertUser({ username: FIRST_ADMIN_USERNAME, role: 'admin', passwordHash });
    const { token } = await issueApiToken(tx, user.id, 'first start');
    return { user, token, password };
  });
}

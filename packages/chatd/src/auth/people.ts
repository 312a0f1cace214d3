import type { UserRole, UserRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { type PasswordHasher, requireAcceptablePassword } from './passwords.js';
import { USERNAME_PATTERN } from './users.js';

/** The largest page of {@link listUsers}. */
export const MAX_USERS_PAGE = 200;

/** One page of users and the cursor of the next (undefined on the last page). */
export interface UsersPage {
  readonly users: UserRow[];
  readonly nextCursor: string | undefined;
}

/**
 * Users by username, keyset-paged: the cursor is opaque to clients (base64url of the last username), so
 * pages stay stable while users are added.
 * @throws {InvalidInputError} for a cursor this server did not make.
 */
export async function listUsers(
  store: Store,
  page: { limit: number; cursor?: string | undefined },
): Promise<UsersPage> {
  const afterUsername = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  // One more than asked tells whether another page exists.
  const rows = await store.listUsersPage({ limit: page.limit + 1, afterUsername });
  const users = rows.slice(0, page.limit);
  const last = users.at(-1);
  return {
    users,
    nextCursor:
      rows.length > page.limit && last ? Buffer.from(last.username).toString('base64url') : undefined,
  };
}

function decodeCursor(cursor: string): string {
  const username = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!USERNAME_PATTERN.test(username)) {
    throw new InvalidInputError('query parameter cursor: not a cursor this server returned');
  }
  return username;
}

/** A change to who a user is allowed to be. */
export interface AccessChange {
  readonly role?: UserRole | undefined;
  readonly disabled?: boolean | undefined;
}

/**
 * Changes a user's role or disabled state. Disabling ends every session and token of the user in the
 * same transaction (the triggers tell every replica, which close the user's streams). The last enabled
 * admin can be neither demoted nor disabled, and nobody can disable themselves (`operator`: the CLI,
 * run by whoever runs the server).
 * @throws {NotFoundError} for an unknown user; {@link ConflictError} for the rules above.
 */
export async function changeUserAccess(
  store: Store,
  actor: AuthenticatedUser | 'operator',
  userId: string,
  change: AccessChange,
): Promise<UserRow> {
  if (change.disabled === true && actor !== 'operator' && userId === actor.id) {
    throw new ConflictError('you cannot disable yourself; ask another admin');
  }
  return store.transaction(async (tx) => {
    await tx.lockAdminChanges();
    const before = await tx.getUserById(userId);
    if (!before) throw new NotFoundError('no such user');
    const losesAdmin =
      before.role === 'admin' &&
      before.disabledAt === null &&
      (change.role === 'member' || change.disabled === true);
    if (losesAdmin && (await tx.countEnabledAdmins()) <= 1) {
      throw new ConflictError('this is the last enabled admin: make another admin first');
    }
    const after = await tx.updateUserAccess(userId, change);
    if (!after) throw new NotFoundError('no such user');
    if (change.disabled === true && before.disabledAt === null) {
      await tx.deleteUserSessionsOfUser(userId);
      await tx.deleteApiTokensOfUser(userId);
    }
    return after;
  });
}

/**
 * Sets a user's password and ends their sessions, except `keepSessionId` (the caller's own, when a
 * person changes their password while logged in).
 * @throws {InvalidInputError} for a password against the rules; {@link NotFoundError} for an unknown user.
 */
export async function setUserPassword(
  store: Store,
  passwords: PasswordHasher,
  userId: string,
  password: string,
  keepSessionId?: string,
): Promise<void> {
  requireAcceptablePassword(password);
  const hash = await passwords.hash(password);
  await store.transaction(async (tx) => {
    if (!(await tx.setUserPasswordHash(userId, hash))) throw new NotFoundError('no such user');
    await tx.deleteUserSessionsOfUser(userId, keepSessionId);
  });
}

/**
 * A person changes their own password: when one is set, `currentPassword` must match it (a stolen
 * session alone cannot lock the owner out). Their other sessions end.
 * @throws {ForbiddenError} for a wrong current password; {@link InvalidInputError} when it is missing.
 */
export async function changeOwnPassword(
  store: Store,
  passwords: PasswordHasher,
  user: AuthenticatedUser,
  password: string,
  currentPassword: string | undefined,
): Promise<void> {
  requireAcceptablePassword(password);
  const stored = await store.getUserPasswordHash(user.id);
  if (!stored) throw new NotFoundError('no such user');
  if (stored.passwordHash !== null) {
    if (currentPassword === undefined) {
      throw new InvalidInputError('current_password: required to change a password that is set');
    }
    if (!(await passwords.verify(currentPassword, stored.passwordHash))) {
      throw new ForbiddenError('current_password is wrong');
    }
  }
  const keep = user.credential.kind === 'session' ? user.credential.id : undefined;
  await setUserPassword(store, passwords, user.id, password, keep);
}

import type { Db } from '../connection.js';
import type { UserLoginRow, UserRole, UserRow } from '../rows.js';

/** The columns of a {@link UserRow}: the hash itself never leaves the login query. */
const USER_COLUMNS = 'id, username, role, created_at, disabled_at, password_hash IS NOT NULL AS has_password';

/** Inserts a user. Fails with a unique violation when the username (case-insensitive) is taken. */
export async function insertUser(
  db: Db,
  input: { username: string; role: UserRole; passwordHash?: string | null },
): Promise<UserRow> {
  const [row] = await db<[UserRow]>`
    INSERT INTO users (username, role, password_hash)
    VALUES (${input.username}, ${input.role}, ${input.passwordHash ?? null})
    RETURNING ${db.unsafe(USER_COLUMNS)}`;
  return row!;
}

/** The user with this id, or undefined. */
export async function getUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db<[UserRow?]>`SELECT ${db.unsafe(USER_COLUMNS)} FROM users WHERE id = ${id}`;
  return row;
}

/** The user with this username (case-insensitive), or undefined. */
export async function getUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const [row] = await db<[UserRow?]>`
    SELECT ${db.unsafe(USER_COLUMNS)} FROM users WHERE lower(username) = lower(${username})`;
  return row;
}

/** What a password login checks, by username (case-insensitive). */
export async function getUserLoginByUsername(db: Db, username: string): Promise<UserLoginRow | undefined> {
  const [row] = await db<[UserLoginRow?]>`
    SELECT id, username, role, disabled_at, password_hash
    FROM users WHERE lower(username) = lower(${username})`;
  return row;
}

/** The stored password hash of a user (null: none set), or undefined for an unknown user. */
export async function getUserPasswordHash(
  db: Db,
  id: string,
): Promise<{ passwordHash: string | null } | undefined> {
  const [row] = await db<[{ passwordHash: string | null }?]>`
    SELECT password_hash FROM users WHERE id = ${id}`;
  return row;
}

/**
 * One page of users by username (case-insensitive, unique: a keyset), strictly after `afterUsername`,
 * `limit` rows at most.
 */
export async function listUsersPage(
  db: Db,
  page: { limit: number; afterUsername?: string | undefined },
): Promise<UserRow[]> {
  const after = page.afterUsername;
  return db<UserRow[]>`
    SELECT ${db.unsafe(USER_COLUMNS)} FROM users
    ${after === undefined ? db`` : db`WHERE lower(username) > lower(${after})`}
    ORDER BY lower(username)
    LIMIT ${page.limit}`;
}

/** Changes a user's role and/or disabled state; returns the row, or undefined for an unknown user. */
export async function updateUserAccess(
  db: Db,
  id: string,
  changes: { role?: UserRole | undefined; disabled?: boolean | undefined },
): Promise<UserRow | undefined> {
  const [row] = await db<[UserRow?]>`
    UPDATE users SET
      role = coalesce(${changes.role ?? null}, role),
      disabled_at = CASE
        WHEN ${changes.disabled ?? null}::boolean IS NULL THEN disabled_at
        WHEN ${changes.disabled ?? null}::boolean THEN coalesce(disabled_at, now())
        ELSE NULL
      END
    WHERE id = ${id}
    RETURNING ${db.unsafe(USER_COLUMNS)}`;
  return row;
}

/** Sets (or, with null, removes) a user's password hash; false for an unknown user. */
export async function setUserPasswordHash(db: Db, id: string, passwordHash: string | null): Promise<boolean> {
  const rows = await db`UPDATE users SET password_hash = ${passwordHash} WHERE id = ${id}`;
  return rows.count > 0;
}

/** How many users exist (first start creates an admin when there are none). */
export async function countUsers(db: Db): Promise<number> {
  const [row] = await db<[{ count: number }]>`SELECT count(*) AS count FROM users`;
  return row!.count;
}

/** How many admins are not disabled (the last one cannot be demoted or disabled). */
export async function countEnabledAdmins(db: Db): Promise<number> {
  const [row] = await db<[{ count: number }]>`
    SELECT count(*) AS count FROM users WHERE role = 'admin' AND disabled_at IS NULL`;
  return row!.count;
}

/** Serialises first-start bootstrap across replicas until the transaction ends. */
export async function lockUserBootstrap(db: Db): Promise<void> {
  await db`SELECT pg_advisory_xact_lock(${0x75736572})`;
}

/**
 * Serialises changes to who is an admin until the transaction ends: two admins demoting each other at
 * once must not both succeed and leave none.
 */
export async function lockAdminChanges(db: Db): Promise<void> {
  await db`SELECT pg_advisory_xact_lock(${0x61646d6e})`;
}

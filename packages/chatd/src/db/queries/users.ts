import type { Db } from '../connection.js';
import type { UserRole, UserRow } from '../rows.js';

/** Inserts a user. Fails with a unique violation when the username (case-insensitive) is taken. */
export async function insertUser(db: Db, input: { username: string; role: UserRole }): Promise<UserRow> {
  const [row] = await db<[UserRow]>`
    INSERT INTO users (username, role) VALUES (${input.username}, ${input.role})
    RETURNING id, username, role, created_at`;
  return row!;
}

/** The user with this id, or undefined. */
export async function getUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db<[UserRow?]>`SELECT id, username, role, created_at FROM users WHERE id = ${id}`;
  return row;
}

/** The user with this username (case-insensitive), or undefined. */
export async function getUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const [row] = await db<[UserRow?]>`
    SELECT id, username, role, created_at FROM users WHERE lower(username) = lower(${username})`;
  return row;
}

/** How many users exist (first start creates an admin when there are none). */
export async function countUsers(db: Db): Promise<number> {
  const [row] = await db<[{ count: number }]>`SELECT count(*) AS count FROM users`;
  return row!.count;
}

/** Serialises first-start bootstrap across replicas until the transaction ends. */
export async function lockUserBootstrap(db: Db): Promise<void> {
  await db`SELECT pg_advisory_xact_lock(${0x75736572})`;
}

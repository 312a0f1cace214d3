/** Response bodies of the people routes: users, sessions and API tokens. */
import { z } from 'zod';
import { USER_ROLES } from '../../db/rows.js';

const timestamp = z.string().describe('An ISO-8601 timestamp (UTC)');
const nullableTimestamp = z.string().nullable().describe('An ISO-8601 timestamp (UTC), or null');

/** A user as anyone sees themself (`GET /users/me`). */
export const userSchema = z
  .strictObject({
    id: z.string(),
    username: z.string(),
    role: z.enum(USER_ROLES),
  })
  .meta({ id: 'User', description: 'A user' });

/** A user as admins (and the user creation and login answers) see it. */
export const userAccountSchema = z
  .strictObject({
    ...userSchema.shape,
    created_at: timestamp,
    disabled: z.boolean(),
    disabled_at: nullableTimestamp,
    has_password: z
      .boolean()
      .describe('Whether the user can log in with a password (the hash is never shown)'),
  })
  .meta({ id: 'UserAccount', description: 'A user account as admins see it' });

export const createdUserSchema = z
  .strictObject({
    user: userAccountSchema,
    token: z.string().describe('An API token of the new user, shown once'),
  })
  .meta({ id: 'CreatedUser' });

export const userPageSchema = z
  .strictObject({
    users: z.array(userAccountSchema),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one'),
  })
  .meta({ id: 'UserPage' });

export const loginResultSchema = z
  .strictObject({
    user: userAccountSchema,
    csrf_token: z.string().describe('Send as `X-CSRF-Token` on every unsafe request of this session'),
    expires_at: timestamp,
  })
  .meta({ id: 'LoginResult' });

export const sessionInfoSchema = z
  .strictObject({
    user: userSchema,
    csrf_token: z.string().nullable().describe("The session's CSRF token; null for an API token"),
    expires_at: nullableTimestamp,
  })
  .meta({ id: 'SessionInfo' });

/** An API token as lists show it: never the token or its hash. */
export const tokenSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    created_at: timestamp,
    last_used_at: nullableTimestamp,
    expires_at: nullableTimestamp,
  })
  .meta({ id: 'Token', description: 'An API token (without its secret)' });

export const tokenListSchema = z.strictObject({ tokens: z.array(tokenSchema) }).meta({ id: 'TokenList' });

export const issuedTokenSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    token: z.string().describe('The token itself: shown this once'),
    created_at: timestamp,
    expires_at: nullableTimestamp,
  })
  .meta({ id: 'IssuedToken' });

export type UserJson = z.output<typeof userSchema>;
export type UserAccountJson = z.output<typeof userAccountSchema>;
export type TokenJson = z.output<typeof tokenSchema>;

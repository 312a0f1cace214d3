import { describe, expect, it } from 'vitest';
import { TOKEN_PREFIX } from '../../src/auth/api-tokens.js';
import { parseCredential } from '../../src/auth/secret-credentials.js';
import { runCli } from '../support/cli-process.js';
import { useTestDatabase } from '../support/test-database.js';

/** `chatd users …` and `chatd tokens …` against a real database, as an operator runs them. */
const db = useTestDatabase();

function cli(args: string[], stdin?: string) {
  return runCli([...args, '--postgres-url', db.database.url, '--log-level', 'warn'], {}, stdin);
}

async function login(username: string, password: string): Promise<boolean> {
  const [row] = await db.sql<[{ passwordHash: string | null }?]>`
    SELECT password_hash FROM users WHERE username = ${username}`;
  const { PasswordHasher } = await import('../../src/auth/passwords.js');
  return new PasswordHasher().verify(password, row?.passwordHash);
}

describe('chatd users and chatd tokens', () => {
  it('creates, lists, disables and enables users, and sets a password from stdin', async () => {
    const created = await cli(['users', 'create', 'dora', '--admin']);
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(/Created admin 'dora'/);
    const withPassword = await cli(['users', 'create', 'eve', '--with-password'], 'a password from stdin\n');
    expect(withPassword.code, withPassword.stderr).toBe(0);
    expect(await login('eve', 'a password from stdin')).toBe(true);

    const listed = await cli(['users', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^dora\s+admin\s+active\s+token only/m);
    expect(listed.stdout).toMatch(/^eve\s+member\s+active\s+password/m);

    const set = await cli(['users', 'set-password', 'dora'], 'another long password\n');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).not.toContain('another long password');
    expect(await login('dora', 'another long password')).toBe(true);
    const weak = await cli(['users', 'set-password', 'dora'], 'short\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('at least 10 characters');

    expect((await cli(['users', 'disable', 'eve'])).stdout).toContain("Disabled 'eve'");
    expect((await cli(['users', 'list'])).stdout).toMatch(/^eve\s+member\s+disabled/m);
    const [{ tokens }] = await db.sql<[{ tokens: number }]>`
      SELECT count(*)::int AS tokens FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'eve'`;
    expect(tokens).toBe(0);
    expect((await cli(['users', 'enable', 'eve'])).stdout).toContain("Enabled 'eve'");
    const unknown = await cli(['users', 'disable', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("chatd: no user named 'nobody'\n");
  });

  it('issues, lists and revokes tokens; the token is printed once and never listed', async () => {
    await cli(['users', 'create', 'frank']);
    const issued = await cli(['tokens', 'create', 'frank', '--name', 'deploy bot', '--expires-in', '90d']);
    expect(issued.code, issued.stderr).toBe(0);
    const token = /^ {4}(chatd_\S+)$/m.exec(issued.stdout)?.[1];
    expect(token).toMatch(/^chatd_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const id = /\(([0-9a-f-]{36})\)/.exec(issued.stdout)?.[1];

    const listed = await cli(['tokens', 'list', 'frank']);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('deploy bot');
    expect(listed.stdout).not.toContain(parseCredential(TOKEN_PREFIX, token!)!.secret);
    const [row] = await db.sql<[{ expiresAt: Date }]>`SELECT expires_at FROM api_tokens WHERE id = ${id!}`;
    expect(Math.abs(row.expiresAt.getTime() - Date.now() - 90 * 86_400_000)).toBeLessThan(120_000);

    expect((await cli(['tokens', 'revoke', id!])).stdout).toBe(`Revoked token ${id}.\n`);
    expect((await cli(['tokens', 'list', 'frank'])).stdout).not.toContain(id);
    const again = await cli(['tokens', 'revoke', id!]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no token with id');
    const malformed = await cli(['tokens', 'revoke', 'not-an-id']);
    expect(malformed.code).toBe(1);
    const badLifetime = await cli(['tokens', 'create', 'frank', '--expires-in', 'forever']);
    expect(badLifetime.code).not.toBe(0);
    expect(badLifetime.stderr).toContain('expected a duration such as 30m, 12h or 90d');
  });
});

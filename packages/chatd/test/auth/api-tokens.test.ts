import { describe, expect, it } from 'vitest';
import { authenticateApiToken } from '../../src/auth/api-tokens.js';
import { generateCredential } from '../../src/auth/secret-credentials.js';
import { createFirstAdminIfNoUsers, createUserWithToken } from '../../src/auth/users.js';
import { ConflictError, InvalidInputError } from '../../src/errors.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();

/** Splits a token into its parts (the secret is base64url and may itself contain "_"). */
function parts(token: string): { publicId: string; secret: string } {
  const match = /^chatd_([a-z0-9]{12})_(.+)$/.exec(token);
  if (!match) throw new Error(`not a chatd token: ${token}`);
  return { publicId: match[1]!, secret: match[2]! };
}

describe('API tokens', () => {
  it('carries at least 32 random bytes and never repeats', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => generateCredential('chatd').value));
    expect(tokens.size).toBe(200);
    for (const token of tokens)
      expect(Buffer.from(parts(token).secret, 'base64url').length).toBeGreaterThanOrEqual(32);
  });

  it('authenticates the right token and refuses wrong, unknown and malformed ones', async () => {
    const { user, token } = await createUserWithToken(db.store, { username: 'tokenuser', role: 'member' });
    expect(await authenticateApiToken(db.store, token)).toMatchObject({ id: user.id, role: 'member' });

    const { publicId, secret } = parts(token);
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    expect(await authenticateApiToken(db.store, `chatd_${publicId}_${flipped}`)).toBeUndefined();
    expect(await authenticateApiToken(db.store, `chatd_zzzzzzzzzzzz_${secret}`)).toBeUndefined();
    expect(await authenticateApiToken(db.store, token.slice(0, -1))).toBeUndefined();
    expect(await authenticateApiToken(db.store, '')).toBeUndefined();
    expect(await authenticateApiToken(db.store, `${token} `)).toBeUndefined();
  });

  it('stores no token or secret in clear anywhere in the database', async () => {
    const { token } = await createUserWithToken(db.store, { username: 'secretive', role: 'admin' });
    const { secret } = parts(token);
    // Every text and bytea value of every column of api_tokens and users, as text.
    const rows = await db.sql<{ dump: string }[]>`
      SELECT t::text || u::text AS dump FROM api_tokens t JOIN users u ON u.id = t.user_id`;
    expect(rows.length).toBeGreaterThan(0);
    for (const { dump } of rows) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(Buffer.from(secret).toString('hex'));
    }
    const [row] = await db.sql<[{ secretHash: Buffer }]>`
      SELECT secret_hash FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'secretive'`;
    expect(row.secretHash.length).toBe(32);
  });

  it('records last use', async () => {
    const { user, token } = await createUserWithToken(db.store, { username: 'lastused', role: 'member' });
    const [before] = await db.store.listApiTokensByUser(user.id);
    expect(before!.lastUsedAt).toBeNull();
    await authenticateApiToken(db.store, token);
    const [after] = await db.store.listApiTokensByUser(user.id);
    expect(after!.lastUsedAt).toBeInstanceOf(Date);
  });
});

describe('users', () => {
  it('rejects bad and duplicate usernames with clear errors', async () => {
    await expect(
      createUserWithToken(db.store, { username: 'has space', role: 'member' }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await createUserWithToken(db.store, { username: 'dupe', role: 'member' });
    await expect(createUserWithToken(db.store, { username: 'DUPE', role: 'member' })).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it('creates exactly one first admin when several replicas start together, and none once users exist', async () => {
    const fresh = await import('../support/test-database.js').then((m) => m.createTestDatabase());
    const { createSql } = await import('../../src/db/connection.js');
    const { createPostgresStore } = await import('../../src/db/store.js');
    const pools = Array.from({ length: 4 }, () => createSql(fresh.url, { maxConnections: 2 }));
    try {
      const results = await Promise.all(
        pools.map((sql) => createFirstAdminIfNoUsers(createPostgresStore(sql))),
      );
      const created = results.filter((r) => r !== undefined);
      expect(created).toHaveLength(1);
      expect(created[0]!.user.role).toBe('admin');
      expect(await authenticateApiToken(createPostgresStore(pools[0]!), created[0]!.token)).toMatchObject({
        role: 'admin',
      });
      expect(await createFirstAdminIfNoUsers(createPostgresStore(pools[0]!))).toBeUndefined();
    } finally {
      await Promise.all(pools.map((sql) => sql.end()));
      await fresh.drop();
    }
  });
});

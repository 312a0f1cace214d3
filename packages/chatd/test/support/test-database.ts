import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { createSql, type Sql } from '../../src/db/connection.js';
import { createPostgresStore, type Store } from '../../src/db/store.js';
import { TEMPLATE_DATABASE, withDatabase } from './global-setup.js';

/** A database of the test cluster, dropped by {@link TestDatabase.drop}. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * Creates a database for one test file: a clone of the migrated template, or empty (for migration
 * tests). Names are random so that files running in parallel never collide.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `chatd_test_${randomBytes(6).toString('hex')}`;
  const admin = createSql(adminUrl, { maxConnections: 1 });
  try {
    await admin.unsafe(
      options.empty ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`,
    );
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    async drop() {
      const dropper = createSql(adminUrl, { maxConnections: 1 });
      try {
        await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** What {@link useTestDatabase} gives a test file. */
export interface TestDatabaseContext {
  database: TestDatabase;
  sql: Sql;
  store: Store;
}

/**
 * Registers hooks that give the calling test file its own migrated database, a pool and a store, and
 * drop the database after the file. Read the fields inside tests (they are set in `beforeAll`).
 */
export function useTestDatabase(): TestDatabaseContext {
  const context = {} as TestDatabaseContext;
  beforeAll(async () => {
    context.database = await createTestDatabase();
    context.sql = createSql(context.database.url, { maxConnections: 5 });
    context.store = createPostgresStore(context.sql);
  });
  afterAll(async () => {
    await context.sql?.end({ timeout: 5 });
    await context.database?.drop();
  });
  return context;
}

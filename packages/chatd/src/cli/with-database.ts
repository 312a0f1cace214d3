import { connectDatabase, type Sql } from '../db/connection.js';
import { locateDatabase } from '../db/database-location.js';
import { migrate } from '../db/migrate.js';
import { createPostgresStore, type Store } from '../db/store.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { DatabaseCliOptions } from './options.js';

/**
 * Runs a one-shot command against chatd's database (embedded or `--postgres-url`), migrated, and
 * releases everything afterwards, whether `work` succeeds or not.
 */
export async function withDatabase<T>(
  options: DatabaseCliOptions,
  work: (sql: Sql, store: Store, logger: Logger) => Promise<T>,
  /** `migrate: false` skips the migration before `work` (`chatd migrate` runs its own). */
  settings: { readonly migrate?: boolean } = {},
): Promise<T> {
  const logger = createLogger(options.logLevel);
  const location = await locateDatabase({
    postgresUrl: options.postgresUrl,
    cacheDir: options.cacheDir,
    logger,
  });
  try {
    const sql = await connectDatabase(location.url, {
      maxConnections: 2,
      preparedStatements: options.postgresPreparedStatements !== 'off',
    });
    try {
      if (settings.migrate !== false) await migrate(sql);
      return await work(sql, createPostgresStore(sql), logger);
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    await location.release();
    logger.flush();
  }
}

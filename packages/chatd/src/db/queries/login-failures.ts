import type { Db } from '../connection.js';

/** A failure counter of one key in its current window. */
export interface LoginFailureRow {
  key: string;
  windowStart: Date;
  failures: number;
}

/** The counters of these keys whose window (of `windowMs`) is still open. */
export async function getLoginFailures(
  db: Db,
  keys: readonly string[],
  windowMs: number,
): Promise<LoginFailureRow[]> {
  return db<LoginFailureRow[]>`
    SELECT key, window_start, failures FROM login_failures
    WHERE key = ANY(${keys as string[]}) AND window_start > now() - make_interval(secs => ${windowMs / 1000})`;
}

/**
 * Counts one failure for each key: a window that has closed starts again at 1. One statement per call,
 * so replicas counting at once never lose an increment.
 */
export async function recordLoginFailures(db: Db, keys: readonly string[], windowMs: number): Promise<void> {
  await db`
    INSERT INTO login_failures (key, window_start, failures)
    SELECT key, now(), 1 FROM unnest(${keys as string[]}::text[]) AS key
    ON CONFLICT (key) DO UPDATE SET
      window_start = CASE WHEN login_failures.window_start <= now() - make_interval(secs => ${windowMs / 1000})
                          THEN now() ELSE login_failures.window_start END,
      failures = CASE WHEN login_failures.window_start <= now() - make_interval(secs => ${windowMs / 1000})
                      THEN 1 ELSE login_failures.failures + 1 END`;
}

/** Forgets the failures of a key (a successful login clears its username's counter). */
export async function clearLoginFailures(db: Db, key: string): Promise<void> {
  await db`DELETE FROM login_failures WHERE key = ${key}`;
}

/** Removes counters whose window closed; returns how many. */
export async function deleteStaleLoginFailures(db: Db, windowMs: number): Promise<number> {
  const rows = await db`
    DELETE FROM login_failures WHERE window_start <= now() - make_interval(secs => ${windowMs / 1000})`;
  return rows.count;
}

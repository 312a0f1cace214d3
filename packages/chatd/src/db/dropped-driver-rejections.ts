/**
 * A rejection that postgres.js drops, so that a process can survive it.
 *
 * On every new connection postgres.js 3.4 first reads the server's array types (`fetch_types`, which
 * chatd needs: its queries send `uuid[]` and `text[]` parameters) and drops the promise of that query
 * (`return fetchArrayTypes()` in its `ReadyForQuery`; porsager/postgres#1192, #1205 and #1223, open).
 * When the connection closes or is terminated during that query (a PostgreSQL restart, a failover,
 * `pg_terminate_backend`, a pooler that drops it), the rejection reaches no code that could handle it
 * and Node ends the process: a replica started a few seconds before a restart died with it. The pool
 * itself recovers (the next query opens a new connection, and the query that opened this one fails on
 * its own and is handled where it was made), so that rejection is safe to note and go on.
 *
 * The match is by the error: postgres.js fails every query waiting on that connection with the same
 * error object, which names the first query it failed (the array-types one). A rejection of one of
 * chatd's own queries with that error would pass too; chatd handles every query it makes, and that
 * query's own failure is reported where it is handled.
 */

/** postgres.js's array-types query, recognised by its text (the error carries it as `query`). */
const ARRAY_TYPES_QUERY =
  /from\s+pg_catalog\.pg_type\s+a\s+left\s+join\s+pg_catalog\.pg_type\s+b\s+on\s+b\.oid\s*=\s*a\.typelem/i;

/** Whether `reason` is the failure of postgres.js's own array-types query (whose promise it drops). */
export function isDroppedArrayTypesRejection(reason: unknown): reason is Error {
  return reason instanceof Error && isArrayTypesQueryFailure(reason as { query?: unknown });
}

/**
 * The same test on an error's fields only (`query`, which postgres.js sets on the errors of its
 * queries), for errors that were copied as plain objects (as a test runner reports them).
 */
export function isArrayTypesQueryFailure(error: { readonly query?: unknown }): boolean {
  return typeof error.query === 'string' && ARRAY_TYPES_QUERY.test(error.query);
}

/**
 * Hands the rejections postgres.js drops (see {@link isDroppedArrayTypesRejection}) to `onDropped`, and
 * leaves every other unhandled rejection to what Node does by default: with `--unhandled-rejections`
 * `throw` (the default) or `strict` it is thrown again, as an uncaught exception that prints it and ends
 * the process with status 1; with `warn` or `warn-with-error-code` it is printed (and the exit status set
 * to 1 for the latter); with `none`, nothing. Returns the uninstaller.
 */
export function handleDroppedDriverRejections(onDropped: (error: Error) => void): () => void {
  const mode = unhandledRejectionsMode();
  const listener = (reason: unknown) => {
    if (isDroppedArrayTypesRejection(reason)) {
      onDropped(reason);
      return;
    }
    const error =
      reason instanceof Error
        ? reason
        : new Error(`a promise was rejected with ${String(reason)} and nothing handled it`, {
            cause: reason,
          });
    if (mode === 'none') return;
    if (mode === 'warn' || mode === 'warn-with-error-code') {
      process.stderr.write(`unhandled rejection: ${error.stack ?? error.message}\n`);
      if (mode === 'warn-with-error-code') process.exitCode = 1;
      return;
    }
    throw error;
  };
  process.on('unhandledRejection', listener);
  return () => process.off('unhandledRejection', listener);
}

/**
 * Node's `--unhandled-rejections` mode for this process, `throw` by default: the last one given wins,
 * and the command line's over `NODE_OPTIONS`.
 */
function unhandledRejectionsMode(): string {
  const flags = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv];
  let mode = 'throw';
  for (const flag of flags) {
    const match = /^--unhandled-rejections=(.+)$/.exec(flag);
    if (match) mode = match[1]!;
  }
  return mode;
}

/** The words chatd logs such a rejection with. */
export const DROPPED_REJECTION_MESSAGE =
  'a new database connection failed while it started (postgres.js leaves this error unhandled: porsager/postgres#1192); the pool opens another one';

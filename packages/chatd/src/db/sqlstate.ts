/**
 * PostgreSQL SQLSTATE codes chatd reacts to. Errors are matched by code, never by message text.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export const SqlState = Object.freeze({
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
  invalidTextRepresentation: '22P02',
  stringDataRightTruncation: '22001',
  undefinedTable: '42P01',
  duplicateDatabase: '42P04',
  invalidPassword: '28P01',
  invalidCatalogName: '3D000',
  adminShutdown: '57P01',
  cannotConnectNow: '57P03',
  lockNotAvailable: '55P03',
});

/** The SQLSTATE of a postgres.js error, or undefined when the error did not come from the server. */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * Whether a failed statement may succeed if sent again: the connection failed or broke (no SQLSTATE), the
 * server is starting, stopping or restarting (class 57P, 08, 53300 too many connections), or the
 * transaction lost a race (40001 serialization failure, 40P01 deadlock). A value the server refused
 * (22021, 23514…) is not: sending it again fails again.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state === undefined) return true;
  return (
    state.startsWith('08') ||
    state.startsWith('57P') ||
    state === '53300' ||
    state === '40001' ||
    state === '40P01'
  );
}

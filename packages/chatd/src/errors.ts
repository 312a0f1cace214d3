/**
 * Errors that chatd raises on purpose. Each has a stable `code` that the HTTP layer and the CLI map to a
 * status or an exit message in one place; the message is safe to show to the caller (never a secret).
 */
export class ChatdError extends Error {
  /** A stable, machine-readable code such as `E_NOT_FOUND`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that does not satisfy the contract (bad flag, bad field, bad id). */
export class InvalidInputError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_INVALID_INPUT', message, options);
  }
}

/** The thing asked for does not exist, or is not visible to the caller. */
export class NotFoundError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_NOT_FOUND', message, options);
  }
}

/** The request conflicts with the current state (a second default model config, a duplicate name). */
export class ConflictError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_CONFLICT', message, options);
  }
}

/** The database could not be reached or prepared; the message says what to do. */
export class DatabaseUnavailableError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_DATABASE_UNAVAILABLE', message, options);
  }
}

/**
 * A PostgreSQL connection URL chatd cannot use as given: an unknown `sslmode`, an unreadable `sslrootcert`,
 * a libpq parameter chatd's driver does not support. The message names the parameter and the file, never a
 * password.
 */
export class InvalidPostgresUrlError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_POSTGRES_URL', message, options);
  }
}

/** Embedded PostgreSQL could not be set up or started; the message says what to do. */
export class EmbeddedPostgresError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_EMBEDDED_POSTGRES', message, options);
  }
}

/** No token, or a token that does not authenticate. */
export class UnauthorizedError extends ChatdError {
  constructor(
    message = 'a valid API token is required (Authorization: Bearer <token>)',
    options?: ErrorOptions,
  ) {
    super('E_UNAUTHORIZED', message, options);
  }
}

/** Authenticated, but the role does not allow this. */
export class ForbiddenError extends ChatdError {
  constructor(message = 'this requires the admin role', options?: ErrorOptions) {
    super('E_FORBIDDEN', message, options);
  }
}

/** A chat's message queue is full. */
export class QueueFullError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_QUEUE_FULL', message, options);
  }
}

/** A value over its size limit (a prompt, a body). */
export class TooLargeError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_TOO_LARGE', message, options);
  }
}

/** Too many requests of one kind from one caller; `retryAfterSeconds` says when to try again. */
export class RateLimitedError extends ChatdError {
  /** Whole seconds until a retry can succeed (the `Retry-After` header). */
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterMs: number, options?: ErrorOptions) {
    super('E_RATE_LIMITED', message, options);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/** A cookie-authenticated unsafe request without the session's `X-CSRF-Token`. */
export class CsrfError extends ChatdError {
  constructor(
    message = 'requests authenticated by the session cookie must send the X-CSRF-Token header that login returned',
    options?: ErrorOptions,
  ) {
    super('E_CSRF', message, options);
  }
}

/**
 * The database schema has migrations this build does not know, and at least one of them is not an
 * expand step (`-- chatd:expand`) that older builds may run on: this build must not serve it.
 */
export class SchemaTooNewError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_SCHEMA_TOO_NEW', message, options);
  }
}

/** The database lacks migrations this build needs, and this start may not apply them (`--migrate off`). */
export class SchemaTooOldError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_SCHEMA_TOO_OLD', message, options);
  }
}

/** A migration could not take its locks within `lock_timeout`, on every attempt. */
export class MigrationLockTimeoutError extends ChatdError {
  constructor(message: string, options?: ErrorOptions) {
    super('E_MIGRATION_LOCK_TIMEOUT', message, options);
  }
}

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { SqlState, sqlStateOf } from '../db/sqlstate.js';
import { ChatdError, RateLimitedError } from '../errors.js';
import type { ErrorBody } from './schemas/responses.js';
import { describeIssues } from './validation.js';

export type { ErrorBody } from './schemas/responses.js';

/** How an error is answered. `internal` errors are logged with their details and answered generically. */
export interface HttpErrorDescription {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly internal: boolean;
}

/** The status of each {@link ChatdError} code a client can cause or act on. Others are internal (500). */
const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze({
  E_INVALID_INPUT: 400,
  E_MALFORMED_JSON: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_CSRF: 403,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_TOO_LARGE: 413,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_QUEUE_FULL: 429,
  E_RATE_LIMITED: 429,
  E_DATABASE_UNAVAILABLE: 503,
  E_UNAVAILABLE: 503,
});

/** SQLSTATEs a client's input can cause that `SqlState` does not name. */
const InputSqlState = Object.freeze({
  numericValueOutOfRange: '22003',
  characterNotInRepertoire: '22021',
  tooManyConnections: '53300',
  /** Class 08: connection exceptions. */
  connectionExceptionClass: '08',
  /** Class 57P: operator intervention (shutdown, cannot connect now). */
  operatorInterventionClass: '57P',
});

/** postgres.js's own codes when the server cannot be reached or the connection dropped. */
const CONNECTION_FAILURE_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
]);

/** Socket and stream errors Fastify reports (status 400) when a client stops sending its body. */
const BODY_READ_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const INTERNAL: HttpErrorDescription = Object.freeze({
  status: 500,
  code: 'E_INTERNAL',
  message: 'internal server error',
  internal: true,
});

/**
 * Maps any error to its HTTP answer: the one place where statuses are decided. Client mistakes are 4xx
 * with a message that helps and echoes no value; anything unexpected is a 500 whose details stay in the
 * log.
 */
export function describeHttpError(error: unknown): HttpErrorDescription {
  if (error instanceof ChatdError) {
    const status = STATUS_BY_CODE[error.code];
    return status === undefined ? INTERNAL : client(status, error.code, error.message);
  }
  if (error instanceof z.core.$ZodError) {
    return client(400, 'E_INVALID_INPUT', describeIssues(error.issues));
  }
  return describeFrameworkError(error) ?? describeDatabaseError(error) ?? INTERNAL;
}

/** Errors Fastify raises while routing and reading the body (codes `FST_ERR_…`). */
function describeFrameworkError(error: unknown): HttpErrorDescription | undefined {
  const code = codeOf(error);
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return client(400, 'E_MALFORMED_JSON', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return client(400, 'E_MALFORMED_JSON', 'the request body is empty');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return client(413, 'E_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return client(
        415,
        'E_UNSUPPORTED_MEDIA_TYPE',
        'request bodies must be JSON (Content-Type: application/json)',
      );
    case 'FST_ERR_NOT_FOUND':
      return client(404, 'E_NOT_FOUND', 'no such route');
  }
  // Other framework errors with a client status (a bad URL, a Content-Length that does not match):
  // Fastify's own messages say what was wrong and reveal nothing. A status on any other error is not
  // trusted (an upstream API's 401 is not the client's), except a body the client stopped sending.
  const status = statusOf(error);
  if (status === undefined || status < 400 || status >= 500) return undefined;
  if (code?.startsWith('FST_')) return client(status, 'E_INVALID_INPUT', (error as Error).message);
  if (code !== undefined && BODY_READ_FAILURE_CODES.has(code)) {
    return client(400, 'E_INVALID_INPUT', 'the request could not be read');
  }
  return undefined;
}

/** PostgreSQL errors, matched by SQLSTATE (never by message text): constraint violations are the caller's. */
function describeDatabaseError(error: unknown): HttpErrorDescription | undefined {
  const code = codeOf(error);
  if (code !== undefined && CONNECTION_FAILURE_CODES.has(code)) return unavailable();
  const state = sqlStateOf(error);
  switch (state) {
    case undefined:
      return undefined;
    case SqlState.invalidTextRepresentation:
    case InputSqlState.numericValueOutOfRange:
    case InputSqlState.characterNotInRepertoire:
    case SqlState.stringDataRightTruncation:
      return client(400, 'E_INVALID_INPUT', 'a value has an invalid format or is out of range');
    case SqlState.checkViolation:
    case SqlState.notNullViolation:
      return client(400, 'E_INVALID_INPUT', 'a value breaks a rule of the data model');
    case SqlState.foreignKeyViolation:
      return client(400, 'E_INVALID_INPUT', 'a value refers to something that does not exist');
    case SqlState.uniqueViolation:
      return client(409, 'E_CONFLICT', 'this conflicts with existing data');
    case InputSqlState.tooManyConnections:
      return unavailable();
  }
  if (
    state.startsWith(InputSqlState.connectionExceptionClass) ||
    state.startsWith(InputSqlState.operatorInterventionClass)
  ) {
    return unavailable();
  }
  return undefined;
}

function client(status: number, code: string, message: string): HttpErrorDescription {
  return { status, code, message, internal: false };
}

function unavailable(): HttpErrorDescription {
  return client(503, 'E_DATABASE_UNAVAILABLE', 'the database is unavailable; try again later');
}

function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function statusOf(error: unknown): number | undefined {
  const status =
    typeof error === 'object' && error !== null ? (error as { statusCode?: unknown }).statusCode : undefined;
  return typeof status === 'number' ? status : undefined;
}

/** The `WWW-Authenticate` challenge sent with every 401 (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="chatd"';

/**
 * Fastify error handler (and `frameworkErrors` handler): answers with {@link describeHttpError}. Internal
 * errors are logged with the error (never the request body, which may hold an API key); client errors
 * at debug level.
 */
export function handleHttpError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const described = describeHttpError(error);
  if (described.internal) {
    request.log.error({ err: error }, 'request failed');
  } else {
    request.log.debug({ code: described.code, status: described.status }, described.message);
  }
  if (described.status === 401) reply.header('www-authenticate', BEARER_CHALLENGE);
  if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSeconds));
  const body: ErrorBody = { error: { code: described.code, message: described.message } };
  return reply.code(described.status).type('application/json; charset=utf-8').send(body);
}

/**
 * How Node's errors for a request it could not even read (no Fastify request exists) are answered: a
 * request not received within the headers or request timeout is 408, headers over Node's size limit
 * 431, anything else that is not HTTP 400.
 */
export function describeClientError(error: unknown): HttpErrorDescription {
  switch (codeOf(error)) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return client(408, 'E_REQUEST_TIMEOUT', 'the request was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return client(431, 'E_HEADERS_TOO_LARGE', 'the request headers are too large');
    default:
      return client(400, 'E_INVALID_INPUT', 'the request is not valid HTTP');
  }
}

/**
 * Fastify `clientErrorHandler`: answers {@link describeClientError} on the raw socket in the usual JSON
 * shape, then closes the connection. Nothing is written when the connection is gone or an answer has
 * already begun on it (a second status line would corrupt it); the socket is closed all the same.
 */
export function handleClientError(error: unknown, socket: Socket, logger: Logger): void {
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (codeOf(error) === 'ECONNRESET' || socket.destroyed || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const described = describeClientError(error);
  logger.debug({ code: described.code, status: described.status, err: error }, described.message);
  const body = JSON.stringify({
    error: { code: described.code, message: described.message },
  } satisfies ErrorBody);
  // Ended, not destroyed: the answer is flushed and followed by a FIN; the socket is destroyed once it
  // is written (a destroy right after the write could drop it).
  socket.end(
    `HTTP/1.1 ${described.status} ${STATUS_CODES[described.status]}\r\nConnection: close\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

/** Fastify not-found handler: unknown routes answer like every other error. */
export function handleUnknownRoute(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body: ErrorBody = {
    error: { code: 'E_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?', 1)[0]}` },
  };
  return reply.code(404).type('application/json; charset=utf-8').send(body);
}

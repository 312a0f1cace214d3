import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ChatdError,
  ConflictError,
  DatabaseUnavailableError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  QueueFullError,
  TooLargeError,
  UnauthorizedError,
} from '../../src/errors.js';
import { bearerToken } from '../../src/http/auth.js';
import { describeClientError, describeHttpError } from '../../src/http/error-handler.js';
import { SecretDecryptionError } from '../../src/secrets/secret-box.js';

/** A postgres.js-like server error: only the SQLSTATE matters, never the message. */
function pgError(code: string, message = 'duplicate key value violates unique constraint "secret_index"') {
  return Object.assign(new Error(message), { code, detail: 'Key (name)=(hidden) already exists.' });
}

describe('describeHttpError', () => {
  it.each([
    [new InvalidInputError('bad'), 400, 'E_INVALID_INPUT'],
    [new UnauthorizedError(), 401, 'E_UNAUTHORIZED'],
    [new ForbiddenError(), 403, 'E_FORBIDDEN'],
    [new NotFoundError('gone'), 404, 'E_NOT_FOUND'],
    [new ConflictError('taken'), 409, 'E_CONFLICT'],
    [new TooLargeError('big'), 413, 'E_TOO_LARGE'],
    [new QueueFullError('full'), 429, 'E_QUEUE_FULL'],
    [new DatabaseUnavailableError('down'), 503, 'E_DATABASE_UNAVAILABLE'],
  ])('maps %o to %i %s with its own message', (error, status, code) => {
    expect(describeHttpError(error)).toEqual({ status, code, message: error.message, internal: false });
  });

  it('treats ChatdErrors without a client meaning as internal, with a generic message', () => {
    for (const error of [
      new SecretDecryptionError('key mismatch'),
      new ChatdError('E_PROVIDER', 'upstream 401'),
    ]) {
      expect(describeHttpError(error)).toEqual({
        status: 500,
        code: 'E_INTERNAL',
        message: 'internal server error',
        internal: true,
      });
    }
  });

  it('maps zod errors to 400 naming the field', () => {
    const result = z.strictObject({ name: z.string() }).safeParse({ name: 1 });
    expect(describeHttpError(result.error)).toMatchObject({ status: 400, code: 'E_INVALID_INPUT' });
    expect(describeHttpError(result.error).message).toContain('name');
  });

  it.each([
    ['22P02', 400, 'E_INVALID_INPUT'],
    ['22003', 400, 'E_INVALID_INPUT'],
    ['22021', 400, 'E_INVALID_INPUT'],
    ['23514', 400, 'E_INVALID_INPUT'],
    ['23502', 400, 'E_INVALID_INPUT'],
    ['23503', 400, 'E_INVALID_INPUT'],
    ['23505', 409, 'E_CONFLICT'],
    ['57P01', 503, 'E_DATABASE_UNAVAILABLE'],
    ['08006', 503, 'E_DATABASE_UNAVAILABLE'],
    ['53300', 503, 'E_DATABASE_UNAVAILABLE'],
    ['42P01', 500, 'E_INTERNAL'],
  ])('maps SQLSTATE %s to %i %s without revealing the server message', (code, status, errorCode) => {
    const described = describeHttpError(pgError(code));
    expect(described).toMatchObject({ status, code: errorCode });
    expect(described.message).not.toContain('secret_index');
    expect(described.message).not.toContain('hidden');
  });

  it('maps postgres.js connection failures to 503', () => {
    const error = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });
    expect(describeHttpError(error)).toMatchObject({ status: 503, code: 'E_DATABASE_UNAVAILABLE' });
  });

  it('maps Fastify body and routing errors', () => {
    const fst = (code: string, statusCode: number, message = 'fastify says') =>
      Object.assign(new Error(message), { code, statusCode });
    expect(describeHttpError(fst('FST_ERR_CTP_INVALID_JSON_BODY', 400))).toMatchObject({
      status: 400,
      code: 'E_MALFORMED_JSON',
    });
    expect(describeHttpError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413))).toMatchObject({
      status: 413,
      code: 'E_TOO_LARGE',
    });
    expect(describeHttpError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415))).toMatchObject({
      status: 415,
      code: 'E_UNSUPPORTED_MEDIA_TYPE',
    });
    expect(describeHttpError(fst('FST_ERR_BAD_URL', 400, "'%zz' is not a valid url component"))).toEqual({
      status: 400,
      code: 'E_INVALID_INPUT',
      message: "'%zz' is not a valid url component",
      internal: false,
    });
    // A body the client stopped sending: its status, but not the socket error's message.
    expect(describeHttpError(fst('ECONNRESET', 400, 'aborted at 10.0.0.1'))).toEqual({
      status: 400,
      code: 'E_INVALID_INPUT',
      message: 'the request could not be read',
      internal: false,
    });
  });

  it('never trusts a status code on an error it does not know', () => {
    // E.g. an upstream API error with the upstream's 401: chatd's client did nothing wrong.
    for (const statusCode of [401, 404, 429, 500]) {
      const upstream = Object.assign(new Error('Incorrect API key sk-…'), { statusCode });
      expect(describeHttpError(upstream)).toMatchObject({ status: 500, code: 'E_INTERNAL', internal: true });
    }
    expect(describeHttpError(new TypeError('x is undefined'))).toMatchObject({ status: 500, internal: true });
    expect(describeHttpError('a string')).toMatchObject({ status: 500, internal: true });
    expect(describeHttpError(undefined)).toMatchObject({ status: 500, internal: true });
  });
});

describe('bearerToken', () => {
  it('reads the token of a Bearer header, scheme case-insensitive', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Bearer   abc ')).toBe('abc');
  });

  it('refuses anything else', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'abc']) {
      expect(bearerToken(header)).toBeUndefined();
    }
  });
});

describe('describeClientError', () => {
  it.each([
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'E_REQUEST_TIMEOUT'],
    ['HPE_HEADER_OVERFLOW', 431, 'E_HEADERS_TOO_LARGE'],
    ['HPE_INVALID_METHOD', 400, 'E_INVALID_INPUT'],
    [undefined, 400, 'E_INVALID_INPUT'],
  ])('maps Node code %s to %i %s', (code, status, errorCode) => {
    const error = Object.assign(new Error('Parse Error: secret-ish detail'), { code });
    const described = describeClientError(error);
    expect(described).toMatchObject({ status, code: errorCode, internal: false });
    expect(described.message).not.toContain('secret');
  });
});

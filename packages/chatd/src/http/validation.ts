import { z } from 'zod';
import type { JsonValue } from '../db/rows.js';
import { InvalidInputError } from '../errors.js';

/** Which part of a request a value came from; names the field in error messages. */
export type RequestPart = 'body' | 'query' | 'path' | 'header';

/**
 * A UUID as PostgreSQL's `uuid` type accepts it (8-4-4-4-12 hex digits, any version). Checked before any
 * query so that a malformed id is a 400, and a well-formed one that matches nothing is a 404.
 */
export const uuid = z.guid({ error: 'must be a UUID' });

/** Path parameters of routes on one resource (`/…/{id}`). */
export const idParams = z.strictObject({ id: uuid });

/** Text PostgreSQL can store: a `text` column refuses NUL characters. */
export function text(): z.ZodString {
  return z.string().refine((value) => !value.includes('\u0000'), 'must not contain NUL characters');
}

/** A name shown to people (the schema allows 1-200 characters). */
export const displayName = text().trim().min(1, 'must not be blank').max(200);

/**
 * A JSON object (jsonb `options`). Its values are not checked again: a request body comes from
 * `JSON.parse`, so each is a JSON value already (and the document says "any value" rather than a
 * recursive type that generated client types cannot spell).
 */
export const jsonObject = z.record(z.string(), z.custom<JsonValue>());

/**
 * Parses one part of a request with a zod schema. Objects are expected to be strict (`z.strictObject`),
 * so unknown fields are refused rather than silently ignored. Routes validate through their `schema`
 * option (`zod-compilers.ts`); this is for what a schema there cannot say: that a route takes no body
 * (`noBody`), where Fastify hands a missing body over as `null`.
 * @throws {InvalidInputError} whose message names each offending field.
 */
export function parseRequestPart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: RequestPart,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidInput(result.error, part);
}

/** The error answered (400 `E_INVALID_INPUT`) for a part of a request that its schema refuses. */
export function invalidInput(error: z.ZodError, part: RequestPart): InvalidInputError {
  return new InvalidInputError(describeIssues(error.issues, part), { cause: error });
}

/**
 * A readable, value-free description of validation issues ("display_name: expected string, received
 * number; unknown field "foo""). Values are never echoed: a field may hold a secret (`api_key`).
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], part?: RequestPart): string {
  return issues.map((issue) => describeIssue(issue, part)).join('; ');
}

function describeIssue(issue: z.core.$ZodIssue, part: RequestPart | undefined): string {
  const where = fieldName(issue.path, part);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    const noun = part === 'query' ? 'query parameter' : 'field';
    const prefix = issue.path.length > 0 ? `${where}: ` : '';
    return `${prefix}unknown ${noun}${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  if (issue.path.length === 0 && part === 'body' && issue.code === 'invalid_type') {
    return 'the request body must be a JSON object';
  }
  return `${where}: ${issue.message.replace(/^Invalid input: /, '').replace(/^[A-Z]/, (c) => c.toLowerCase())}`;
}

function fieldName(path: readonly PropertyKey[], part: RequestPart | undefined): string {
  let name = '';
  for (const segment of path) {
    if (typeof segment === 'number') name += `[${segment}]`;
    else name += name === '' ? String(segment) : `.${String(segment)}`;
  }
  if (part === 'query') return name === '' ? 'query string' : `query parameter ${name}`;
  if (part === 'path') return name === '' ? 'path' : `path parameter ${name}`;
  if (part === 'header') return name === '' ? 'header' : `header ${name}`;
  return name === '' ? 'request body' : name;
}

/** Routes that take no body accept none, or an empty object. */
export const noBody = z.strictObject({}).optional();

/**
 * A message id in a query string, a path or a header (a non-negative integer), as a number. Documented as
 * the integer it stands for (`meta`), so that clients pass a number; a URL carries it as digits.
 */
export const messageIdParam = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a message id (a non-negative integer)')
  .transform(Number)
  .meta({ type: 'integer', minimum: 0, description: 'A message id' });

/** A page size in a query string: an integer from 1 to `max` (documented as one, see `messageIdParam`). */
export function pageLimitParam(max: number) {
  return z
    .string()
    .regex(/^\d{1,4}$/, `must be an integer from 1 to ${max}`)
    .transform(Number)
    .refine((limit) => limit >= 1 && limit <= max, `must be an integer from 1 to ${max}`)
    .meta({ type: 'integer', minimum: 1, maximum: max, description: 'The page size' });
}

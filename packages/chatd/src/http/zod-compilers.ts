import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { z } from 'zod';
import { describeIssues, invalidInput, type RequestPart } from './validation.js';

/** Fastify's names of the parts of a request, as `describeIssues` names them. */
const REQUEST_PARTS: Readonly<Record<string, RequestPart>> = Object.freeze({
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
});

function zodSchemaOf(schema: unknown, what: string): z.ZodType {
  if (schema instanceof z.ZodType) return schema;
  throw new TypeError(`${what} must be a zod schema`);
}

/**
 * Validates the params, querystring, body and headers of a route with their zod schemas (the route's
 * `schema` option), after the `onRequest` access hooks: a caller without a credential gets 401 before any
 * 400. A refused part is the same `InvalidInputError` that `parseRequestPart` throws (status 400, code
 * `E_INVALID_INPUT`, the message of `describeIssues`); the parsed value (transforms and defaults applied)
 * replaces the request's.
 *
 * Fastify hands a missing body over as `null`: routes that accept no body therefore have no body schema
 * and check it in the handler (`noBody`), so that an absent body and a JSON `null` stay distinct.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart, method, url }) => {
  const zodSchema = zodSchemaOf(schema, `the ${httpPart} schema of ${method} ${url}`);
  const part = REQUEST_PARTS[httpPart ?? ''];
  if (part === undefined) throw new TypeError(`${method} ${url}: no request part named ${httpPart}`);
  return (data) => {
    const result = zodSchema.safeParse(data);
    return result.success ? { value: result.data } : { error: invalidInput(result.error, part) };
  };
};

/** A response that does not match its schema (only checked when responses are validated, in tests). */
export class ResponseSchemaError extends Error {
  readonly code = 'E_RESPONSE_SCHEMA';

  constructor(method: string, url: string, status: string, issues: string, options?: ErrorOptions) {
    super(`the ${status} response of ${method} ${url} does not match its schema: ${issues}`, options);
    this.name = 'ResponseSchemaError';
  }
}

const stringify = (data: unknown): string => JSON.stringify(data);

/**
 * Serializes responses that have a schema. By default plain `JSON.stringify`: the response schemas are
 * the type of the presenters (checked at compile time) and the document's source, and the hot path pays
 * nothing for them. With `validateResponses` (the test harnesses), every body is first parsed with its
 * schema, and one that does not match is a {@link ResponseSchemaError}: answered 500 and logged, so that
 * the suite checks every schema against real responses. The body sent is the value given, not the parsed
 * one (strict schemas would otherwise hide an extra field instead of failing).
 */
export function createSerializerCompiler(validateResponses: boolean): FastifySerializerCompiler<unknown> {
  if (!validateResponses) return () => stringify;
  return ({ schema, method, url, httpStatus }) => {
    const zodSchema = zodSchemaOf(schema, `the ${httpStatus} response schema of ${method} ${url}`);
    return (data) => {
      const result = zodSchema.safeParse(data);
      if (!result.success) {
        throw new ResponseSchemaError(
          method,
          url,
          httpStatus ?? '(any)',
          describeIssues(result.error.issues),
          {
            cause: result.error,
          },
        );
      }
      return stringify(data);
    };
  };
}

/**
 * Building blocks of the routes' `response` schemas: a JSON response with its description, an empty one,
 * and the error body every error answer carries.
 */
import { z } from 'zod';

/** The JSON body of every error response: `{"error": {"code": "E_…", "message": "…"}}`. */
export const errorBodySchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().describe('A stable, machine-readable code such as `E_NOT_FOUND`'),
      message: z.string().describe('What went wrong, for people; never echoes a submitted value'),
    }),
  })
  .meta({ id: 'Error', description: 'The body of every error answer' });

/** The JSON body of every error response. */
export type ErrorBody = z.output<typeof errorBodySchema>;

/** A response with a JSON body: the shape Fastify, the zod type provider and `@fastify/swagger` share. */
export interface JsonResponse<S extends z.ZodType> {
  readonly description: string;
  readonly content: { readonly 'application/json': { readonly schema: S } };
}

/** A JSON response described for the API reference (the description is the OpenAPI response's). */
export function jsonResponse<S extends z.ZodType>(description: string, schema: S): JsonResponse<S> {
  return { description, content: { 'application/json': { schema } } };
}

/** A response without a body (202, 204): documented without content. */
export function emptyResponse(description: string) {
  return z.undefined().describe(description);
}

/** An error response with `{error: {code, message}}` and what the status means on that route. */
export function errorResponse(description: string): JsonResponse<typeof errorBodySchema> {
  return jsonResponse(description, errorBodySchema);
}

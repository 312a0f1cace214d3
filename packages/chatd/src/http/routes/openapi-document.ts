import { z } from 'zod';
import { jsonResponse } from '../schemas/responses.js';
import type { ApiInstance, RouteContext } from './route-context.js';

/** The document as this route's response schema sees it: an object with its OpenAPI version. */
const openApiDocumentSchema = z
  .looseObject({ openapi: z.string().describe('3.1.x') })
  .meta({ id: 'OpenApiDocument', description: 'An OpenAPI 3.1 document' });

/** `GET /openapi.json` (anyone): this document, generated from the route schemas (see `openapi.ts`). */
export function registerOpenApiDocumentRoute(app: ApiInstance, { access }: RouteContext): void {
  app.get(
    '/openapi.json',
    {
      onRequest: access.allowAnyone,
      schema: {
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI 3.1 document',
        tags: ['meta'],
        response: { 200: jsonResponse('The OpenAPI document of this build', openApiDocumentSchema) },
      },
    },
    async (request) => request.server.swagger() as z.output<typeof openApiDocumentSchema>,
  );
}

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { notReadySchema, readySchema } from './schemas/health.js';
import { jsonResponse } from './schemas/responses.js';

/**
 * `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","reasons":[…]}` (see
 * `cluster/readiness.ts`). Public like `/healthz`: load balancers and orchestrators call it unauthenticated,
 * and the reasons name no secret. Registered as a plugin, after the OpenAPI collector (see `openapi.ts`).
 */
export function registerReadinessRoute(app: FastifyInstance, reasons: () => Promise<string[]>): void {
  app.register(async (root) => {
    root.withTypeProvider<ZodTypeProvider>().get(
      '/readyz',
      {
        schema: {
          operationId: 'getReadiness',
          summary: 'Readiness: whether this replica should get traffic',
          tags: ['meta'],
          security: [],
          response: {
            200: jsonResponse('Ready', readySchema),
            503: jsonResponse('Not ready, and why', notReadySchema),
          },
        },
      },
      async (_request, reply) => {
        const found = await reasons();
        if (found.length === 0) return { status: 'ready' as const };
        return reply.code(503).send({ status: 'not_ready', reasons: found });
      },
    );
  });
}

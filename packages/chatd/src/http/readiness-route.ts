import type { FastifyInstance } from 'fastify';

/**
 * `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","reasons":[…]}` (see
 * `cluster/readiness.ts`). Public like `/healthz`: load balancers and orchestrators call it unauthenticated,
 * and the reasons name no secret.
 */
export function registerReadinessRoute(app: FastifyInstance, reasons: () => Promise<string[]>): void {
  app.get('/readyz', async (_request, reply) => {
    const found = await reasons();
    if (found.length === 0) return { status: 'ready' };
    return reply.code(503).send({ status: 'not_ready', reasons: found });
  });
}

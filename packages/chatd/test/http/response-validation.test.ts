import { Writable } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonResponse } from '../../src/http/schemas/responses.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logging/logger.js';

const thing = z.strictObject({ id: z.string(), count: z.number().int() });

/** An app with one route whose answer is `body`, documented as {@link thing}. */
async function appAnswering(body: unknown, validateResponses: boolean) {
  const logs: string[] = [];
  const logger = createLogger(
    'trace',
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const app = createHttpServer({ logger, validateResponses });
  app.register(async (scope) => {
    scope.withTypeProvider<ZodTypeProvider>().get(
      '/thing',
      { schema: { response: { 200: jsonResponse('A thing', thing) } } },
      // The cast stands for a presenter that drifted from its schema.
      async () => body as z.output<typeof thing>,
    );
  });
  await app.ready();
  return { app, logs };
}

describe('response schemas at run time', () => {
  it('serializes with plain JSON.stringify by default: nothing is checked on the hot path', async () => {
    const { app } = await appAnswering({ id: 'a', count: 'many', extra: true }, false);
    const response = await app.inject({ method: 'GET', url: '/thing' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id: 'a', count: 'many', extra: true });
    await app.close();
  });

  it('with validateResponses, sends a matching body as it is', async () => {
    const { app } = await appAnswering({ id: 'a', count: 2 }, true);
    const response = await app.inject({ method: 'GET', url: '/thing' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('{"id":"a","count":2}');
    await app.close();
  });

  it.each([
    ['a wrong type', { id: 'a', count: 'many' }, 'count'],
    ['a missing field', { id: 'a' }, 'count'],
    ['a field the schema does not have', { id: 'a', count: 1, extra: true }, '"extra"'],
  ])('with validateResponses, answers %s with a logged 500', async (_case, body, named) => {
    const { app, logs } = await appAnswering(body, true);
    const response = await app.inject({ method: 'GET', url: '/thing' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: 'E_INTERNAL', message: 'internal server error' } });
    const logged = logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'request failed');
    expect(logged).toMatchObject({
      level: 50,
      err: { type: 'ResponseSchemaError', message: expect.stringContaining('GET /thing') },
    });
    expect(logged.err.message).toContain(named);
    await app.close();
  });
});

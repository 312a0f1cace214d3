import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PROVIDER_KINDS } from '../../db/rows.js';
import { presentProvider } from '../presenters.js';
import { displayName, idParams, parseRequestPart, text } from '../validation.js';
import type { RouteContext } from './route-context.js';

/** Write-only: stored encrypted, never returned (responses carry `has_api_key`). `null` removes it. */
const apiKey = text().min(1, 'must not be empty (send null to remove the key)').max(4096).nullable();
const baseUrl = text().max(2048).nullable();

const createProviderBody = z.strictObject({
  provider: z.enum(PROVIDER_KINDS),
  display_name: displayName,
  api_key: apiKey.optional(),
  base_url: baseUrl.optional(),
  enabled: z.boolean().optional(),
});

/** Changing `provider` or `base_url` without `api_key` drops the stored key (see `updateProvider`). */
const updateProviderBody = z.strictObject({
  provider: z.enum(PROVIDER_KINDS).optional(),
  display_name: displayName.optional(),
  api_key: apiKey.optional(),
  base_url: baseUrl.optional(),
  enabled: z.boolean().optional(),
});

/** Provider administration under `/chat/providers` (admins only). */
export function registerProviderRoutes(app: FastifyInstance, { access, configAdmin }: RouteContext): void {
  const admin = { onRequest: access.requireAdmin };

  app.get('/chat/providers', admin, async () => ({
    providers: (await configAdmin.listProviders()).map(presentProvider),
  }));

  app.post('/chat/providers', admin, async (request, reply) => {
    const body = parseRequestPart(createProviderBody, request.body, 'body');
    const provider = await configAdmin.createProvider({
      provider: body.provider,
      displayName: body.display_name,
      apiKey: body.api_key,
      baseUrl: body.base_url,
      enabled: body.enabled,
    });
    return reply.code(201).send(presentProvider(provider));
  });

  app.patch('/chat/providers/:id', admin, async (request) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const body = parseRequestPart(updateProviderBody, request.body, 'body');
    const provider = await configAdmin.updateProvider(id, {
      provider: body.provider,
      displayName: body.display_name,
      apiKey: body.api_key,
      baseUrl: body.base_url,
      enabled: body.enabled,
    });
    return presentProvider(provider);
  });

  app.delete('/chat/providers/:id', admin, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    await configAdmin.deleteProvider(id);
    return reply.code(204).send();
  });
}

import { z } from 'zod';
import { PROVIDER_KINDS } from '../../db/rows.js';
import { presentProvider } from '../presenters.js';
import { providerListSchema, providerSchema } from '../schemas/chat-config.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import { displayName, idParams, text } from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';

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
export function registerProviderRoutes(app: ApiInstance, { access, configAdmin }: RouteContext): void {
  const admin = { onRequest: access.requireAdmin };
  const tags = ['providers'];
  const noSuchProvider = errorResponse('No such provider (`E_NOT_FOUND`)');

  app.get(
    '/chat/providers',
    {
      ...admin,
      schema: {
        operationId: 'listProviders',
        summary: 'List the LLM providers',
        tags,
        response: { 200: jsonResponse('Every provider', providerListSchema) },
      },
    },
    async () => ({ providers: (await configAdmin.listProviders()).map(presentProvider) }),
  );

  app.post(
    '/chat/providers',
    {
      ...admin,
      schema: {
        operationId: 'createProvider',
        summary: 'Register an LLM provider',
        description:
          '`api_key` is write-only: stored encrypted, never returned (answers carry `has_api_key`).',
        tags,
        body: createProviderBody,
        response: {
          201: jsonResponse('The provider', providerSchema),
          409: errorResponse('It conflicts with an existing provider (`E_CONFLICT`)'),
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const provider = await configAdmin.createProvider({
        provider: body.provider,
        displayName: body.display_name,
        apiKey: body.api_key,
        baseUrl: body.base_url,
        enabled: body.enabled,
      });
      return reply.code(201).send(presentProvider(provider));
    },
  );

  app.patch(
    '/chat/providers/:id',
    {
      ...admin,
      schema: {
        operationId: 'updateProvider',
        summary: 'Change a provider',
        description:
          'Changing `provider` or `base_url` without `api_key` drops the stored key; `api_key: null` removes it.',
        tags,
        params: idParams,
        body: updateProviderBody,
        response: {
          200: jsonResponse('The provider', providerSchema),
          404: noSuchProvider,
          409: errorResponse('The change conflicts with another provider (`E_CONFLICT`)'),
        },
      },
    },
    async (request) => {
      const { body } = request;
      const provider = await configAdmin.updateProvider(request.params.id, {
        provider: body.provider,
        displayName: body.display_name,
        apiKey: body.api_key,
        baseUrl: body.base_url,
        enabled: body.enabled,
      });
      return presentProvider(provider);
    },
  );

  app.delete(
    '/chat/providers/:id',
    {
      ...admin,
      schema: {
        operationId: 'deleteProvider',
        summary: 'Delete a provider',
        tags,
        params: idParams,
        response: {
          204: emptyResponse('The provider is deleted'),
          404: noSuchProvider,
        },
      },
    },
    async (request, reply) => {
      await configAdmin.deleteProvider(request.params.id);
      return reply.code(204).send();
    },
  );
}

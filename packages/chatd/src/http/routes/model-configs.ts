import { z } from 'zod';
import { userOf } from '../auth.js';
import { presentModelConfig } from '../presenters.js';
import { modelConfigListSchema, modelConfigSchema } from '../schemas/chat-config.js';
import { emptyResponse, errorResponse, jsonResponse } from '../schemas/responses.js';
import { displayName, idParams, jsonObject, uuid } from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';

const model = displayName;
/** A PostgreSQL integer > 0. */
const contextLimit = z.number().int().positive().max(2_147_483_647);
/** At most half the context_limit (checked with it, in `ConfigAdmin`); null: the default. */
const maxOutputTokens = z.number().int().positive().max(2_147_483_647).nullable();
/** A percentage of context_limit. */
const compressionThreshold = z.number().int().min(1).max(100);

const createModelConfigBody = z.strictObject({
  provider_id: uuid,
  model,
  display_name: displayName,
  enabled: z.boolean().optional(),
  is_default: z.boolean().optional(),
  context_limit: contextLimit,
  max_output_tokens: maxOutputTokens.optional(),
  compression_threshold: compressionThreshold.optional(),
  options: jsonObject.optional(),
});

const updateModelConfigBody = z.strictObject({
  model: model.optional(),
  display_name: displayName.optional(),
  enabled: z.boolean().optional(),
  is_default: z.boolean().optional(),
  context_limit: contextLimit.optional(),
  max_output_tokens: maxOutputTokens.optional(),
  compression_threshold: compressionThreshold.optional(),
  options: jsonObject.optional(),
});

/**
 * Model configurations under `/chat/model-configs`: any user lists them (members see the enabled ones);
 * admins create, change and (softly) delete them.
 */
export function registerModelConfigRoutes(app: ApiInstance, { access, configAdmin }: RouteContext): void {
  const admin = { onRequest: access.requireAdmin };
  const tags = ['model-configs'];
  const noSuchConfig = errorResponse('No such model config (`E_NOT_FOUND`)');

  app.get(
    '/chat/model-configs',
    {
      onRequest: access.requireUser,
      schema: {
        operationId: 'listModelConfigs',
        summary: 'List the model configs',
        description: 'Admins see all of them, members the enabled ones.',
        tags,
        response: { 200: jsonResponse('The model configs', modelConfigListSchema) },
      },
    },
    async (request) => ({
      model_configs: (await configAdmin.listModelConfigs(userOf(request))).map(presentModelConfig),
    }),
  );

  app.post(
    '/chat/model-configs',
    {
      ...admin,
      schema: {
        operationId: 'createModelConfig',
        summary: 'Create a model config',
        tags,
        body: createModelConfigBody,
        response: {
          201: jsonResponse('The model config', modelConfigSchema),
          409: errorResponse('It conflicts with another model config (`E_CONFLICT`)'),
        },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const config = await configAdmin.createModelConfig({
        providerId: body.provider_id,
        model: body.model,
        displayName: body.display_name,
        enabled: body.enabled,
        isDefault: body.is_default,
        contextLimit: body.context_limit,
        maxOutputTokens: body.max_output_tokens,
        compressionThreshold: body.compression_threshold,
        options: body.options,
      });
      return reply.code(201).send(presentModelConfig(config));
    },
  );

  app.patch(
    '/chat/model-configs/:id',
    {
      ...admin,
      schema: {
        operationId: 'updateModelConfig',
        summary: 'Change a model config',
        tags,
        params: idParams,
        body: updateModelConfigBody,
        response: {
          200: jsonResponse('The model config', modelConfigSchema),
          404: noSuchConfig,
          409: errorResponse('The change conflicts with another model config (`E_CONFLICT`)'),
        },
      },
    },
    async (request) => {
      const { body } = request;
      const config = await configAdmin.updateModelConfig(request.params.id, {
        model: body.model,
        displayName: body.display_name,
        enabled: body.enabled,
        isDefault: body.is_default,
        contextLimit: body.context_limit,
        maxOutputTokens: body.max_output_tokens,
        compressionThreshold: body.compression_threshold,
        options: body.options,
      });
      return presentModelConfig(config);
    },
  );

  app.delete(
    '/chat/model-configs/:id',
    {
      ...admin,
      schema: {
        operationId: 'deleteModelConfig',
        summary: 'Delete a model config (softly)',
        description: 'Chats that use it keep their history.',
        tags,
        params: idParams,
        response: { 204: emptyResponse('The model config is deleted'), 404: noSuchConfig },
      },
    },
    async (request, reply) => {
      await configAdmin.deleteModelConfig(request.params.id);
      return reply.code(204).send();
    },
  );
}

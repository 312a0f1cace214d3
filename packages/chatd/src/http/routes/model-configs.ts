import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { userOf } from '../auth.js';
import { presentModelConfig } from '../presenters.js';
import { displayName, idParams, jsonObject, parseRequestPart, uuid } from '../validation.js';
import type { RouteContext } from './route-context.js';

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
export function registerModelConfigRoutes(app: FastifyInstance, { access, configAdmin }: RouteContext): void {
  const admin = { onRequest: access.requireAdmin };

  app.get('/chat/model-configs', { onRequest: access.requireUser }, async (request) => ({
    model_configs: (await configAdmin.listModelConfigs(userOf(request))).map(presentModelConfig),
  }));

  app.post('/chat/model-configs', admin, async (request, reply) => {
    const body = parseRequestPart(createModelConfigBody, request.body, 'body');
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
  });

  app.patch('/chat/model-configs/:id', admin, async (request) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    const body = parseRequestPart(updateModelConfigBody, request.body, 'body');
    const config = await configAdmin.updateModelConfig(id, {
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
  });

  app.delete('/chat/model-configs/:id', admin, async (request, reply) => {
    const { id } = parseRequestPart(idParams, request.params, 'path');
    await configAdmin.deleteModelConfig(id);
    return reply.code(204).send();
  });
}

import { z } from 'zod';
import { userOf } from '../auth.js';
import { presentConfigStatus } from '../presenters.js';
import { configStatusSchema, systemPromptSchema, userPromptSchema } from '../schemas/chat-config.js';
import { jsonResponse } from '../schemas/responses.js';
import { text } from '../validation.js';
import type { ApiInstance, RouteContext } from './route-context.js';

const userPromptBody = z.strictObject({ custom_prompt: text() });
const systemPromptBody = z.strictObject({ system_prompt: text() });

/**
 * `/chat/config/…`: each user's own custom prompt (there is no way to name another user's), the
 * deployment system prompt and the config status (admins).
 */
export function registerConfigRoutes(app: ApiInstance, { access, configAdmin }: RouteContext): void {
  const user = { onRequest: access.requireUser };
  const admin = { onRequest: access.requireAdmin };
  const tags = ['config'];
  const userPrompt = jsonResponse("The caller's custom prompt (empty when none)", userPromptSchema);
  const systemPrompt = jsonResponse('The deployment system prompt (empty when none)', systemPromptSchema);

  app.get(
    '/chat/config/user-prompt',
    {
      ...user,
      schema: {
        operationId: 'getUserPrompt',
        summary: "The caller's custom prompt",
        tags,
        response: { 200: userPrompt },
      },
    },
    async (request) => ({ custom_prompt: await configAdmin.getUserPrompt(userOf(request).id) }),
  );

  app.put(
    '/chat/config/user-prompt',
    {
      ...user,
      schema: {
        operationId: 'setUserPrompt',
        summary: "Set the caller's custom prompt",
        description: 'At most 128 KiB (413 `E_TOO_LARGE` beyond).',
        tags,
        body: userPromptBody,
        response: { 200: userPrompt },
      },
    },
    async (request) => ({
      custom_prompt: await configAdmin.setUserPrompt(userOf(request).id, request.body.custom_prompt),
    }),
  );

  app.get(
    '/chat/config/system-prompt',
    {
      ...admin,
      schema: {
        operationId: 'getSystemPrompt',
        summary: 'The deployment system prompt',
        tags,
        response: { 200: systemPrompt },
      },
    },
    async () => ({ system_prompt: await configAdmin.getSystemPrompt() }),
  );

  app.put(
    '/chat/config/system-prompt',
    {
      ...admin,
      schema: {
        operationId: 'setSystemPrompt',
        summary: 'Set the deployment system prompt',
        description: 'At most 128 KiB (413 `E_TOO_LARGE` beyond).',
        tags,
        body: systemPromptBody,
        response: { 200: systemPrompt },
      },
    },
    async (request) => ({ system_prompt: await configAdmin.setSystemPrompt(request.body.system_prompt) }),
  );

  app.get(
    '/chat/config/status',
    {
      ...admin,
      schema: {
        operationId: 'getConfigStatus',
        summary: 'The configuration version, and the one each replica applied',
        tags,
        response: { 200: jsonResponse('The configuration status', configStatusSchema) },
      },
    },
    async () => presentConfigStatus(await configAdmin.getStatus()),
  );
}

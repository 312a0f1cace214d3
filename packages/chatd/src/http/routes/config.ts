import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { userOf } from '../auth.js';
import { presentConfigStatus } from '../presenters.js';
import { parseRequestPart, text } from '../validation.js';
import type { RouteContext } from './route-context.js';

const userPromptBody = z.strictObject({ custom_prompt: text() });
const systemPromptBody = z.strictObject({ system_prompt: text() });

/**
 * `/chat/config/…`: each user's own custom prompt (there is no way to name another user's), the
 * deployment system prompt and the config status (admins).
 */
export function registerConfigRoutes(app: FastifyInstance, { access, configAdmin }: RouteContext): void {
  const user = { onRequest: access.requireUser };
  const admin = { onRequest: access.requireAdmin };

  app.get('/chat/config/user-prompt', user, async (request) => ({
    custom_prompt: await configAdmin.getUserPrompt(userOf(request).id),
  }));

  app.put('/chat/config/user-prompt', user, async (request) => {
    const body = parseRequestPart(userPromptBody, request.body, 'body');
    return { custom_prompt: await configAdmin.setUserPrompt(userOf(request).id, body.custom_prompt) };
  });

  app.get('/chat/config/system-prompt', admin, async () => ({
    system_prompt: await configAdmin.getSystemPrompt(),
  }));

  app.put('/chat/config/system-prompt', admin, async (request) => {
    const body = parseRequestPart(systemPromptBody, request.body, 'body');
    return { system_prompt: await configAdmin.setSystemPrompt(body.system_prompt) };
  });

  app.get('/chat/config/status', admin, async () => presentConfigStatus(await configAdmin.getStatus()));
}

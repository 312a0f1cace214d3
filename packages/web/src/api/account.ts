/** The logged-in person's own settings: personal instructions, password, API tokens, model choices. */
import { chatd, request } from './client';
import type { ApiToken, IssuedApiToken, ModelConfig } from './types';

/** The model configs the caller may pick (members: the enabled ones; admins: all). */
export async function listModelConfigs(): Promise<ModelConfig[]> {
  const { model_configs } = await request(chatd.api.GET('/api/v1/chat/model-configs', {}));
  return model_configs;
}

/** The caller's personal instructions (empty when none). */
export async function getUserPrompt(): Promise<string> {
  const { custom_prompt } = await request(chatd.api.GET('/api/v1/chat/config/user-prompt', {}));
  return custom_prompt ?? '';
}

/** Saves the caller's personal instructions. */
export async function setUserPrompt(customPrompt: string): Promise<void> {
  await request(chatd.api.PUT('/api/v1/chat/config/user-prompt', { body: { custom_prompt: customPrompt } }));
}

/** Changes the caller's password (the current one proves it is them). */
export async function changeOwnPassword(currentPassword: string, password: string): Promise<void> {
  await request(
    chatd.api.PUT('/api/v1/users/me/password', { body: { password, current_password: currentPassword } }),
  );
}

/** The caller's API tokens (names and dates; never the tokens). */
export async function listOwnTokens(): Promise<ApiToken[]> {
  const { tokens } = await request(chatd.api.GET('/api/v1/users/me/tokens', {}));
  return tokens;
}

/** Issues an API token; the answer is the only time the token is shown. */
export function createOwnToken(name: string, expiresIn: string | undefined): Promise<IssuedApiToken> {
  return request(
    chatd.api.POST('/api/v1/users/me/tokens', { body: { name, expires_in: expiresIn || undefined } }),
  );
}

/** Revokes one of the caller's API tokens. */
export async function revokeOwnToken(id: string): Promise<void> {
  await request(chatd.api.DELETE('/api/v1/users/me/tokens/{id}', { params: { path: { id } } }));
}

/** Administration: providers, model configs, the system prompt, users, usage and deployment status. */
import { chatd, request } from './client';
import type {
  ConfigStatus,
  ModelConfig,
  Provider,
  ProviderKind,
  UsageGrouping,
  UsageReport,
  UserAccount,
  UserRole,
} from './types';

/** What a provider form sends; `api_key` is write-only (`undefined` leaves it unchanged). */
export interface ProviderInput {
  provider: ProviderKind;
  display_name: string;
  base_url: string | null;
  enabled: boolean;
  api_key?: string | null;
}

/** Every provider. */
export async function listProviders(): Promise<Provider[]> {
  const { providers } = await request(chatd.api.GET('/api/v1/chat/providers', {}));
  return providers;
}

/** Creates a provider. */
export function createProvider(input: ProviderInput): Promise<Provider> {
  return request(chatd.api.POST('/api/v1/chat/providers', { body: input }));
}

/** Changes a provider. */
export function updateProvider(id: string, input: Partial<ProviderInput>): Promise<Provider> {
  return request(chatd.api.PATCH('/api/v1/chat/providers/{id}', { params: { path: { id } }, body: input }));
}

/** Deletes a provider. */
export async function deleteProvider(id: string): Promise<void> {
  await request(chatd.api.DELETE('/api/v1/chat/providers/{id}', { params: { path: { id } } }));
}

/** What a model config form sends. */
export interface ModelConfigInput {
  provider_id: string;
  model: string;
  display_name: string;
  enabled: boolean;
  is_default: boolean;
  context_limit: number;
  /** null: the default; absent (an edit): unchanged. */
  max_output_tokens?: number | null;
  compression_threshold: number;
  options: Record<string, unknown>;
}

/** Creates a model config. */
export function createModelConfig(input: ModelConfigInput): Promise<ModelConfig> {
  return request(chatd.api.POST('/api/v1/chat/model-configs', { body: input }));
}

/** Changes a model config (its provider stays). */
export function updateModelConfig(
  id: string,
  input: Omit<ModelConfigInput, 'provider_id'>,
): Promise<ModelConfig> {
  return request(
    chatd.api.PATCH('/api/v1/chat/model-configs/{id}', { params: { path: { id } }, body: input }),
  );
}

/** Deletes a model config (softly: chats keep their history). */
export async function deleteModelConfig(id: string): Promise<void> {
  await request(chatd.api.DELETE('/api/v1/chat/model-configs/{id}', { params: { path: { id } } }));
}

/** The deployment's system prompt (empty when none). */
export async function getSystemPrompt(): Promise<string> {
  const { system_prompt } = await request(chatd.api.GET('/api/v1/chat/config/system-prompt', {}));
  return system_prompt ?? '';
}

/** Saves the deployment's system prompt. */
export async function setSystemPrompt(systemPrompt: string): Promise<void> {
  await request(
    chatd.api.PUT('/api/v1/chat/config/system-prompt', { body: { system_prompt: systemPrompt } }),
  );
}

/** One page of users. */
export function listUsers(cursor?: string): Promise<{ users: UserAccount[]; next_cursor: string | null }> {
  return request(chatd.api.GET('/api/v1/users', { params: { query: { cursor, limit: 50 } } }));
}

/** Creates a user (with a password, or none: then only its API token logs in). */
export function createUser(input: {
  username: string;
  role: UserRole;
  password?: string;
}): Promise<{ user: UserAccount; token: string }> {
  return request(chatd.api.POST('/api/v1/users', { body: input }));
}

/** Changes a user's role or disables/enables them. */
export function updateUser(
  id: string,
  change: { role?: UserRole; disabled?: boolean },
): Promise<UserAccount> {
  return request(chatd.api.PATCH('/api/v1/users/{id}', { params: { path: { id } }, body: change }));
}

/** Sets a user's password. */
export async function resetUserPassword(id: string, password: string): Promise<void> {
  await request(
    chatd.api.PUT('/api/v1/users/{id}/password', { params: { path: { id } }, body: { password } }),
  );
}

/** Token usage per user or model config over UTC days (`YYYY-MM-DD`, inclusive). */
export function getUsage(query: {
  from?: string;
  to?: string;
  group_by: UsageGrouping;
}): Promise<UsageReport> {
  return request(
    chatd.api.GET('/api/v1/usage', {
      params: {
        query: { from: query.from || undefined, to: query.to || undefined, group_by: query.group_by },
      },
    }),
  );
}

/** The database's config version and each replica's applied one. */
export function getConfigStatus(): Promise<ConfigStatus> {
  return request(chatd.api.GET('/api/v1/chat/config/status', {}));
}

/**
 * Rows as the API shows them: snake_case fields, ISO-8601 timestamps, and nothing internal (no API key or
 * its ciphertext, no token hash, no worker bookkeeping). Each presenter's type is its response schema's
 * output (`schemas/*.ts`), so a presenter that drifts from the documented shape fails to compile.
 */
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { toStreamedMessage } from '../chat/chat-events.js';
import type { ConfigStatus } from '../config/config-admin.js';
import { effectiveMaxOutputTokens } from '../config/model-context-settings.js';
import type {
  ApiTokenSummaryRow,
  ChatMessageRow,
  ChatModelConfigRow,
  ChatProviderRow,
  ChatQueuedMessageRow,
  ChatRow,
  UserRow,
} from '../db/rows.js';
import type { ConfigStatusJson, ModelConfigJson, ProviderJson } from './schemas/chat-config.js';
import type { ChatJson, MessageJson, QueuedMessageJson } from './schemas/chats.js';
import type { TokenJson, UserAccountJson, UserJson } from './schemas/users.js';

export type {
  ChatJson,
  ConfigStatusJson,
  MessageJson,
  ModelConfigJson,
  ProviderJson,
  QueuedMessageJson,
  TokenJson,
  UserAccountJson,
  UserJson,
};

export function presentUser(user: AuthenticatedUser): UserJson {
  return { id: user.id, username: user.username, role: user.role };
}

export function presentUserAccount(row: UserRow): UserAccountJson {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    created_at: row.createdAt.toISOString(),
    disabled: row.disabledAt !== null,
    disabled_at: row.disabledAt?.toISOString() ?? null,
    has_password: row.hasPassword,
  };
}

export function presentToken(row: ApiTokenSummaryRow): TokenJson {
  return {
    id: row.id,
    name: row.name,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    expires_at: row.expiresAt?.toISOString() ?? null,
  };
}

export function presentProvider(row: ChatProviderRow): ProviderJson {
  return {
    id: row.id,
    provider: row.provider,
    display_name: row.displayName,
    base_url: row.baseUrl,
    enabled: row.enabled,
    has_api_key: row.apiKeyEncrypted !== null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export function presentModelConfig(row: ChatModelConfigRow): ModelConfigJson {
  return {
    id: row.id,
    provider_id: row.providerId,
    model: row.model,
    display_name: row.displayName,
    enabled: row.enabled,
    is_default: row.isDefault,
    context_limit: row.contextLimit,
    max_output_tokens: effectiveMaxOutputTokens(row),
    compression_threshold: row.compressionThreshold,
    options: row.options,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export function presentChat(row: ChatRow): ChatJson {
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    model_config_id: row.modelConfigId,
    last_error: row.lastError,
    archived: row.archived,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    usage: { input_tokens: row.inputTokens, output_tokens: row.outputTokens },
  };
}

/** A message: the same shape as the stream's `message` events. */
export function presentMessage(row: ChatMessageRow): MessageJson {
  return toStreamedMessage(row);
}

export function presentQueuedMessage(row: ChatQueuedMessageRow): QueuedMessageJson {
  return { id: row.id, content: row.content, created_at: row.createdAt.toISOString() };
}

export function presentConfigStatus(status: ConfigStatus): ConfigStatusJson {
  return {
    version: status.version,
    replicas: status.replicas.map((replica) => ({
      id: replica.id,
      hostname: replica.hostname,
      applied_version: replica.appliedConfigVersion,
      heartbeat_at: replica.heartbeatAt.toISOString(),
      started_at: replica.startedAt.toISOString(),
    })),
  };
}

/**
 * Rows as the API shows them: snake_case fields, ISO-8601 timestamps, and nothing internal (no API key or
 * its ciphertext, no token hash, no worker bookkeeping).
 */
import type { AuthenticatedUser } from '../auth/api-tokens.js';
import { type StreamedMessage, toStreamedMessage } from '../chat/chat-events.js';
import type { ConfigStatus } from '../config/config-admin.js';
import type {
  ChatMessageRow,
  ChatModelConfigRow,
  ChatProviderRow,
  ChatQueuedMessageRow,
  ChatRow,
  ModelOptions,
  ProviderKind,
  UserRole,
  UserRow,
} from '../db/rows.js';

export interface UserJson {
  id: string;
  username: string;
  role: UserRole;
}

export interface CreatedUserJson extends UserJson {
  created_at: string;
}

export function presentUser(user: AuthenticatedUser): UserJson {
  return { id: user.id, username: user.username, role: user.role };
}

export function presentCreatedUser(row: UserRow): CreatedUserJson {
  return { id: row.id, username: row.username, role: row.role, created_at: row.createdAt.toISOString() };
}

export interface ProviderJson {
  id: string;
  provider: ProviderKind;
  display_name: string;
  base_url: string | null;
  enabled: boolean;
  /** The API key is write-only: only whether one is set is shown. */
  has_api_key: boolean;
  created_at: string;
  updated_at: string;
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

export interface ModelConfigJson {
  id: string;
  provider_id: string;
  model: string;
  display_name: string;
  enabled: boolean;
  is_default: boolean;
  context_limit: number;
  options: ModelOptions;
  created_at: string;
  updated_at: string;
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
    options: row.options,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export interface ChatJson {
  id: string;
  title: string;
  status: ChatRow['status'];
  model_config_id: string | null;
  last_error: string | null;
  archived: boolean;
  created_at: string;
  updated_at: string;
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
  };
}

/** A message: the same shape as the stream's `message` events. */
export function presentMessage(row: ChatMessageRow): StreamedMessage {
  return toStreamedMessage(row);
}

export interface QueuedMessageJson {
  id: number;
  content: string;
  created_at: string;
}

export function presentQueuedMessage(row: ChatQueuedMessageRow): QueuedMessageJson {
  return { id: row.id, content: row.content, created_at: row.createdAt.toISOString() };
}

export interface ConfigStatusJson {
  version: number;
  replicas: {
    id: string;
    hostname: string;
    applied_version: number;
    heartbeat_at: string;
    started_at: string;
  }[];
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

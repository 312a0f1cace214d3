/**
 * Rows as the API shows them: snake_case fields, ISO-8601 timestamps, and nothing internal (no API key or
 * its ciphertext, no token hash, no worker bookkeeping).
 */
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { type StreamedMessage, toStreamedMessage } from '../chat/chat-events.js';
import type { ConfigStatus } from '../config/config-admin.js';
import { effectiveMaxOutputTokens } from '../config/model-context-settings.js';
import type {
  ApiTokenSummaryRow,
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

/** A user as admins (and the user creation answer) see it. */
export interface UserAccountJson extends UserJson {
  created_at: string;
  disabled: boolean;
  disabled_at: string | null;
  /** Whether the user can log in with a password (the hash itself is never shown). */
  has_password: boolean;
}

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

/** A token as lists show it: never the token or its hash. */
export interface TokenJson {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
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
  /** The answer reserve in force (the default when none was set). */
  max_output_tokens: number;
  compression_threshold: number;
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
    max_output_tokens: effectiveMaxOutputTokens(row),
    compression_threshold: row.compressionThreshold,
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
  /** Tokens the chat's turns spent (messages removed by an edit still count). */
  usage: { input_tokens: number; output_tokens: number };
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

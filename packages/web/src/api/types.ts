/**
 * The API's JSON shapes as the web app uses them (mirroring the server's presenters). Kept in one place
 * so that, once the OpenAPI-generated types cover every route, only this file changes.
 */

export type UserRole = 'admin' | 'member';

export interface User {
  id: string;
  username: string;
  role: UserRole;
}

export interface UserAccount extends User {
  created_at: string;
  disabled: boolean;
  disabled_at: string | null;
  has_password: boolean;
}

export interface Session {
  user: User;
  csrf_token: string | null;
}

export type ChatStatus = 'pending' | 'running' | 'waiting' | 'error';

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
}

export interface Chat {
  id: string;
  title: string;
  status: ChatStatus;
  model_config_id: string | null;
  last_error: string | null;
  archived: boolean;
  created_at: string;
  updated_at: string;
  usage: TokenUsage;
}

export type FinishReason = 'stop' | 'length' | 'interrupted' | 'error';

export interface Message {
  id: number;
  role: 'user' | 'assistant' | 'system' | (string & {});
  content: string;
  model_config_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  finish_reason: FinishReason | null;
  reply_to: number | null;
  created_at: string;
}

export interface QueuedMessage {
  id: number;
  content: string;
  created_at: string;
}

export interface ChatDetail {
  chat: Chat;
  messages: Message[];
  queued_messages: QueuedMessage[];
  next_before_id: number | null;
}

export interface ChatPage {
  chats: Chat[];
  next_cursor: string | null;
}

export type ProviderKind = 'openai' | 'openai-compat' | 'anthropic' | 'builtin';
export const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'openai-compat', 'anthropic', 'builtin'];

export interface Provider {
  id: string;
  provider: ProviderKind;
  display_name: string;
  base_url: string | null;
  enabled: boolean;
  has_api_key: boolean;
  created_at: string;
  updated_at: string;
}

export interface ModelConfig {
  id: string;
  provider_id: string;
  model: string;
  display_name: string;
  enabled: boolean;
  is_default: boolean;
  context_limit: number;
  max_output_tokens: number;
  compression_threshold: number;
  options: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface ApiToken {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

export interface IssuedApiToken {
  id: string;
  name: string;
  token: string;
  created_at: string;
  expires_at: string | null;
}

export interface ReplicaStatus {
  id: string;
  hostname: string;
  applied_version: number;
  heartbeat_at: string;
  started_at: string;
}

export interface ConfigStatus {
  version: number;
  replicas: ReplicaStatus[];
}

export type UsageGrouping = 'user' | 'model_config';

export interface UsageRow {
  key: string | null;
  name: string | null;
  input_tokens: number;
  output_tokens: number;
  turns: number;
}

export interface UsageReport {
  from: string;
  to: string;
  group_by: UsageGrouping;
  rows: UsageRow[];
}

/** What a chat's event stream delivers (as `@chatd/client`'s follower hands it over). */
export type ChatStreamEvent =
  | { type: 'status'; status: ChatStatus; last_error?: string | null }
  | { type: 'message_part'; text: string }
  | { type: 'message'; message: Message }
  | { type: 'error'; message: string }
  | { type: 'title'; title: string }
  | { type: 'truncate'; after_id: number }
  | { type: 'deleted'; chat_id: string };

export type { StreamState } from '@chatd/client';

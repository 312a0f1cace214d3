/**
 * Row shapes as the named queries return them (camelCase; timestamps as Date; bigint as number).
 */

/** A JSON object, as stored in jsonb columns. */
export type JsonObject = { [key: string]: JsonValue };
/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export const USER_ROLES = ['admin', 'member'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** A user as everything but login sees it: the password hash is never part of it. */
export interface UserRow {
  id: string;
  username: string;
  role: UserRole;
  createdAt: Date;
  /** Set while the user is disabled. */
  disabledAt: Date | null;
  hasPassword: boolean;
}

/** What a password login needs: the user and the stored hash (read only by the login path). */
export interface UserLoginRow {
  id: string;
  username: string;
  role: UserRole;
  disabledAt: Date | null;
  passwordHash: string | null;
}

/** The user half of a credential lookup (a token or session joined with its user). */
export interface CredentialUserColumns {
  username: string;
  role: UserRole;
  disabledAt: Date | null;
}

export interface ApiTokenRow {
  id: string;
  publicId: string;
  userId: string;
  name: string;
  secretHash: Buffer;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
}

/** A token as its owner sees it in a list: no hash. */
export type ApiTokenSummaryRow = Omit<ApiTokenRow, 'secretHash' | 'publicId'>;

/** A token together with the user it belongs to (one query on every authenticated request). */
export interface ApiTokenWithUserRow extends ApiTokenRow, CredentialUserColumns {}

export interface UserSessionRow {
  id: string;
  publicId: string;
  userId: string;
  secretHash: Buffer;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

/** A session together with its user (one query on every cookie-authenticated request). */
export interface UserSessionWithUserRow extends UserSessionRow, CredentialUserColumns {}

export const PROVIDER_KINDS = ['openai', 'openai-compat', 'anthropic', 'builtin'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export interface ChatProviderRow {
  id: string;
  provider: ProviderKind;
  displayName: string;
  apiKeyEncrypted: Buffer | null;
  baseUrl: string | null;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * Model options as read back from jsonb: a JSON object, typed loosely on purpose (`unknown` values keep
 * `DeepReadonly<…>` of cached rows cheap for the compiler; writes take a {@link JsonObject}).
 */
export type ModelOptions = { [key: string]: unknown };

export interface ChatModelConfigRow {
  id: string;
  providerId: string;
  model: string;
  displayName: string;
  enabled: boolean;
  isDefault: boolean;
  contextLimit: number;
  /** The reserve for the answer, sent as the provider's output limit; null: the default (migration 0011). */
  maxOutputTokens: number | null;
  /** A percentage of `contextLimit`: a prompt over it has its older history summarised. */
  compressionThreshold: number;
  options: ModelOptions;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface UserChatPromptRow {
  userId: string;
  customPrompt: string;
  updatedAt: Date;
}

export const CHAT_STATUSES = ['pending', 'running', 'waiting', 'error'] as const;
export type ChatStatus = (typeof CHAT_STATUSES)[number];

export interface ChatRow {
  id: string;
  ownerId: string;
  title: string;
  status: ChatStatus;
  /** Bumped by every status change (migration 0005): orders status events across replicas. */
  statusVersion: number;
  modelConfigId: string | null;
  workerId: string | null;
  /** Which claim of the chat the worker holds (set while running). */
  claimId: string | null;
  heartbeatAt: Date | null;
  lastError: string | null;
  /** Messages waiting in the chat's queue. */
  queuedMessages: number;
  /** How often the current turn was given back (its replica died, stalled or stopped); see migration 0006. */
  turnTakeovers: number;
  /** An interrupt of the current turn is pending: whoever runs (or claims) it ends it as interrupted. */
  interruptRequested: boolean;
  archived: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** How the title came to be (migration 0009): `pending` until generated after the first answer. */
  titleState: TitleState;
  /** Tokens the chat's turns spent, summed as each ends. */
  inputTokens: number;
  outputTokens: number;
  /** The id after which an edit or regenerate last removed messages; null when none ever did. */
  historyTruncatedAfter: number | null;
}

export const TITLE_STATES = ['pending', 'generating', 'generated', 'user'] as const;
export type TitleState = (typeof TITLE_STATES)[number];

export type ChatMessageRole = 'user' | 'assistant';

export const FINISH_REASONS = ['stop', 'length', 'interrupted', 'error'] as const;
/**
 * How an assistant message ended: `stop` (the model finished), `length` (it hit the output limit),
 * `interrupted` (the user stopped it: its partial text, possibly empty), `error` (the turn failed: its
 * partial text, possibly empty; not an answer, never sent to the model again).
 */
export type FinishReason = (typeof FINISH_REASONS)[number];

export interface ChatMessageRow {
  id: number;
  chatId: string;
  role: ChatMessageRole;
  content: string;
  modelConfigId: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** Set on assistant messages only. */
  finishReason: FinishReason | null;
  /** The user message an assistant message answers (null on user messages). */
  replyTo: number | null;
  createdAt: Date;
}

/** A chat's summary (migration 0011): it stands for the messages up to `throughMessageId` in prompts. */
export interface ChatSummaryRow {
  chatId: string;
  content: string;
  /** The last message it covers. */
  throughMessageId: number;
  /** Its size in the chat's tokenizer when it was written. */
  tokenCount: number;
  modelConfigId: string | null;
  /** Usage of every summary call of the chat, added up. */
  inputTokens: number;
  outputTokens: number;
  /** How many summaries were written (each replaced the one before). */
  compactions: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ChatQueuedMessageRow {
  id: number;
  chatId: string;
  content: string;
  createdAt: Date;
}

export interface ReplicaRow {
  id: string;
  hostname: string;
  startedAt: Date;
  heartbeatAt: Date;
  appliedConfigVersion: number;
}

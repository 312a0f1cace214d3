import type {
  ChatModelConfigRow,
  ChatProviderRow,
  JsonObject,
  ProviderKind,
  ReplicaRow,
  UserRole,
} from '../db/rows.js';
import { SqlState, sqlStateOf } from '../db/sqlstate.js';
import type { Store } from '../db/store.js';
import { InvalidInputError, NotFoundError, TooLargeError } from '../errors.js';
import { refusedHostReason } from '../llm/provider-address-policy.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { DEFAULT_COMPRESSION_THRESHOLD, requireContextSettings } from './model-context-settings.js';

/** The largest user or system prompt, in UTF-8 bytes (the schema's CHECK constraints agree). */
export const MAX_PROMPT_BYTES = 128 * 1024;

/** A provider to create. `apiKey` is encrypted before it is stored and never returned. */
export interface NewProvider {
  provider: ProviderKind;
  displayName: string;
  apiKey?: string | null | undefined;
  baseUrl?: string | null | undefined;
  enabled?: boolean | undefined;
}

/**
 * Changes to a provider; absent fields stay, `apiKey: null` removes the key, `baseUrl: null` clears it.
 * A change of `provider` (the kind) or `baseUrl` without `apiKey` also removes the key: see
 * {@link ConfigAdmin.updateProvider}.
 */
export interface ProviderChanges {
  provider?: ProviderKind | undefined;
  displayName?: string | undefined;
  apiKey?: string | null | undefined;
  baseUrl?: string | null | undefined;
  enabled?: boolean | undefined;
}

/** A model configuration to create. */
export interface NewModelConfig {
  providerId: string;
  model: string;
  displayName: string;
  enabled?: boolean | undefined;
  isDefault?: boolean | undefined;
  contextLimit: number;
  /** The answer reserve; absent or null: the default (see `model-context-settings.ts`). */
  maxOutputTokens?: number | null | undefined;
  /** A percentage of `contextLimit`; absent: 70. */
  compressionThreshold?: number | undefined;
  options?: JsonObject | undefined;
}

/** Changes to a model configuration; absent fields stay. */
export interface ModelConfigChanges {
  model?: string | undefined;
  displayName?: string | undefined;
  enabled?: boolean | undefined;
  isDefault?: boolean | undefined;
  contextLimit?: number | undefined;
  /** null resets the answer reserve to the default. */
  maxOutputTokens?: number | null | undefined;
  compressionThreshold?: number | undefined;
  options?: JsonObject | undefined;
}

/** The configuration version and what every replica has applied of it. */
export interface ConfigStatus {
  version: number;
  replicas: ReplicaRow[];
}

/**
 * How many times a default move is tried when other transactions move the default at the same time. Each
 * conflict means another move committed, so n concurrent moves need at most n attempts; past this, the
 * caller gets a 409 and may retry.
 */
const DEFAULT_MOVE_ATTEMPTS = 8;

/**
 * The configuration operations of the admin and user API, so that routes stay thin: every rule that the
 * schema also enforces is checked here first for a readable error, and every write goes through the
 * store. Caches are never invalidated here: the database triggers notify every replica of every write.
 */
export class ConfigAdmin {
  readonly #store: Store;
  readonly #secretBox: SecretBox;

  constructor(deps: { store: Store; secretBox: SecretBox }) {
    this.#store = deps.store;
    this.#secretBox = deps.secretBox;
  }

  /** Every provider, oldest first. */
  listProviders(): Promise<ChatProviderRow[]> {
    return this.#store.listChatProviders();
  }

  /**
   * Creates a provider; `openai-compat` needs a base URL, and no base URL may point at a link-local or
   * cloud metadata address (see `provider-address-policy.ts`).
   */
  async createProvider(input: NewProvider): Promise<ChatProviderRow> {
    const baseUrl = input.baseUrl ?? null;
    requireBaseUrlRules(input.provider, baseUrl);
    return this.#store.insertChatProvider({
      provider: input.provider,
      displayName: input.displayName,
      apiKeyEncrypted: this.#encryptApiKey(input.apiKey),
      baseUrl,
      enabled: input.enabled ?? true,
    });
  }

  /**
   * Applies changes to a provider, under the rules of its kind as it will be.
   *
   * A provider's key goes where the provider points: a PATCH that changes `provider` or `base_url` (to a
   * different value; the stored one again is no change) without `api_key` drops the stored key, so that
   * an edit, or a typo, can never send the key to another host or another kind of API. To move a
   * provider with its key, send the key again in the same request.
   *
   * @throws {NotFoundError} when there is no such provider.
   * @throws {InvalidInputError} when the result breaks the kind's base URL rules or the address rule.
   */
  async updateProvider(id: string, changes: ProviderChanges): Promise<ChatProviderRow> {
    return this.#store.transaction(async (tx) => {
      // Locked: whether this request moves the provider is decided on the row it then writes. Unlocked,
      // a concurrent move could commit in between, and this request would keep a key that only the
      // other one's destination had been checked against.
      const current = await tx.lockChatProviderById(id);
      if (!current) throw providerNotFound(id);
      const kind = changes.provider ?? current.provider;
      const baseUrl = changes.baseUrl === undefined ? current.baseUrl : changes.baseUrl;
      if (changes.provider !== undefined || changes.baseUrl !== undefined) requireBaseUrlRules(kind, baseUrl);
      const moved = kind !== current.provider || baseUrl !== current.baseUrl;
      const apiKeyEncrypted =
        changes.apiKey !== undefined ? this.#encryptApiKey(changes.apiKey) : moved ? null : undefined;
      const updated = await tx.updateChatProvider(id, {
        provider: changes.provider,
        displayName: changes.displayName,
        apiKeyEncrypted,
        baseUrl: changes.baseUrl,
        enabled: changes.enabled,
      });
      if (!updated) throw providerNotFound(id);
      return updated;
    });
  }

  /** Deletes a provider and, by cascade, its model configs (chats keep their messages). */
  async deleteProvider(id: string): Promise<void> {
    if (!(await this.#store.deleteChatProvider(id))) throw providerNotFound(id);
  }

  /** Model configs not deleted: all of them for admins, only the enabled ones for members. */
  listModelConfigs(viewer: { role: UserRole }): Promise<ChatModelConfigRow[]> {
    return this.#store.listChatModelConfigs({ includeDisabled: viewer.role === 'admin' });
  }

  /**
   * Creates a model config. With `isDefault`, the previous default stops being one in the same
   * transaction. @throws {InvalidInputError} when the provider does not exist.
   */
  async createModelConfig(input: NewModelConfig): Promise<ChatModelConfigRow> {
    const maxOutputTokens = input.maxOutputTokens ?? null;
    const compressionThreshold = input.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD;
    requireContextSettings({ contextLimit: input.contextLimit, maxOutputTokens, compressionThreshold });
    return this.#moveDefaultIf(input.isDefault === true, async (tx) => {
      if (!(await tx.getChatProviderById(input.providerId))) {
        throw new InvalidInputError(`provider ${input.providerId} does not exist`);
      }
      if (input.isDefault) await tx.clearDefaultChatModelConfig();
      return tx.insertChatModelConfig({
        providerId: input.providerId,
        model: input.model,
        displayName: input.displayName,
        enabled: input.enabled ?? true,
        isDefault: input.isDefault ?? false,
        contextLimit: input.contextLimit,
        maxOutputTokens,
        compressionThreshold,
        options: input.options ?? {},
      });
    });
  }

  /** Applies changes to a model config. @throws {NotFoundError} when there is none (or it was deleted). */
  async updateModelConfig(id: string, changes: ModelConfigChanges): Promise<ChatModelConfigRow> {
    const changesContext =
      changes.contextLimit !== undefined ||
      changes.maxOutputTokens !== undefined ||
      changes.compressionThreshold !== undefined;
    return this.#moveDefaultIf(changes.isDefault === true, async (tx) => {
      if (changesContext) {
        // The settings are checked together, as they will be. A concurrent write between this read and
        // the update is caught by the schema's CHECK constraints (reported as invalid input below).
        const current = await tx.getChatModelConfigById(id);
        if (!current) throw modelConfigNotFound(id);
        requireContextSettings({
          contextLimit: changes.contextLimit ?? current.contextLimit,
          maxOutputTokens:
            changes.maxOutputTokens === undefined ? current.maxOutputTokens : changes.maxOutputTokens,
          compressionThreshold: changes.compressionThreshold ?? current.compressionThreshold,
        });
      }
      // Clearing first is safe: a missing config throws below and rolls the clear back.
      if (changes.isDefault) await tx.clearDefaultChatModelConfig();
      const updated = await tx.updateChatModelConfig(id, changes).catch((error: unknown) => {
        if (sqlStateOf(error) === SqlState.checkViolation) {
          throw new InvalidInputError(
            'max_output_tokens must be at most half the context_limit (the model config changed meanwhile: read it again)',
          );
        }
        throw error;
      });
      if (!updated) throw modelConfigNotFound(id);
      return updated;
    });
  }

  /** Soft-deletes a model config: it is no longer listed or used; chats keep their history. */
  async deleteModelConfig(id: string): Promise<void> {
    if (!(await this.#store.softDeleteChatModelConfig(id))) throw modelConfigNotFound(id);
  }

  /** The user's own custom prompt ('' when never set). Read from the store: a write is seen at once. */
  async getUserPrompt(userId: string): Promise<string> {
    return (await this.#store.getUserChatPrompt(userId))?.customPrompt ?? '';
  }

  /** Sets the user's own custom prompt. @throws {TooLargeError} over {@link MAX_PROMPT_BYTES}. */
  async setUserPrompt(userId: string, customPrompt: string): Promise<string> {
    requirePromptSize('custom_prompt', customPrompt);
    return (await this.#store.upsertUserChatPrompt(userId, customPrompt)).customPrompt;
  }

  /** The deployment system prompt ('' when unset). */
  getSystemPrompt(): Promise<string> {
    return this.#store.getSystemPrompt();
  }

  /** Replaces the deployment system prompt. @throws {TooLargeError} over {@link MAX_PROMPT_BYTES}. */
  async setSystemPrompt(systemPrompt: string): Promise<string> {
    requirePromptSize('system_prompt', systemPrompt);
    await this.#store.setSystemPrompt(systemPrompt);
    return systemPrompt;
  }

  /** The latest config version and every replica's applied version. */
  async getStatus(): Promise<ConfigStatus> {
    const [version, replicas] = await Promise.all([
      this.#store.getConfigVersion(),
      this.#store.listReplicas(),
    ]);
    return { version, replicas };
  }

  #encryptApiKey(apiKey: string | null | undefined): Buffer | null {
    return apiKey === undefined || apiKey === null ? null : this.#secretBox.encrypt(apiKey);
  }

  /**
   * Runs `work` in a transaction. When it moves the default, a concurrent move can commit between our
   * clear and our write (READ COMMITTED: our clear did not see its new default), which the one-default
   * unique index turns into a unique violation; the move is then retried on the new state.
   */
  async #moveDefaultIf<T>(movesDefault: boolean, work: (tx: Store) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store.transaction(work);
      } catch (error) {
        const retry =
          movesDefault && attempt < DEFAULT_MOVE_ATTEMPTS && sqlStateOf(error) === SqlState.uniqueViolation;
        if (!retry) throw error;
      }
    }
  }
}

function providerNotFound(id: string): NotFoundError {
  return new NotFoundError(`provider ${id} not found`);
}

function modelConfigNotFound(id: string): NotFoundError {
  return new NotFoundError(`model config ${id} not found`);
}

/**
 * `openai-compat` needs a base URL; a base URL is http(s), carries no credentials (it is shown) and does
 * not point at a link-local or cloud metadata address (its host as URL parsing normalises it, so that
 * `http://2852039166/` is 169.254.169.254; names are checked again at connect time, see
 * `provider-fetch.ts`).
 */
function requireBaseUrlRules(provider: ProviderKind, baseUrl: string | null): void {
  if (baseUrl === null) {
    if (provider === 'openai-compat') {
      throw new InvalidInputError('base_url is required for an openai-compat provider');
    }
    return;
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new InvalidInputError('base_url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError('base_url must be an absolute http(s) URL');
  }
  // The schema's CHECK is a prefix match on the text as given: keep the two in agreement.
  if (!/^https?:\/\//.test(baseUrl))
    throw new InvalidInputError('base_url must start with http:// or https://');
  if (url.username !== '' || url.password !== '') {
    throw new InvalidInputError('base_url must not contain credentials (use api_key)');
  }
  const refused = refusedHostReason(url.hostname);
  if (refused !== undefined) {
    throw new InvalidInputError(
      `base_url must not point at a link-local or cloud metadata address (${refused}); loopback and private addresses are allowed`,
    );
  }
}

function requirePromptSize(field: string, prompt: string): void {
  const bytes = Buffer.byteLength(prompt, 'utf8');
  if (bytes > MAX_PROMPT_BYTES) {
    throw new TooLargeError(
      `${field} is ${bytes} bytes; the limit is ${MAX_PROMPT_BYTES} bytes (128 KiB) of UTF-8`,
    );
  }
}

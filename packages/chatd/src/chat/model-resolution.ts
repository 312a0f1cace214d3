import type { CachedModelConfig, CachedProvider, ChatConfigCache } from '../config/chat-config-cache.js';
import type { ChatRow } from '../db/rows.js';
import { ChatdError } from '../errors.js';
import type { ProviderConnection } from '../llm/index.js';
import type { SecretBox } from '../secrets/secret-box.js';

/** The chat's model cannot be resolved (no default, provider disabled); the message is for `last_error`. */
export class ModelUnavailableError extends ChatdError {
  constructor(message: string) {
    super('E_MODEL_UNAVAILABLE', message);
  }
}

/** The model config and provider a turn uses. */
export interface ResolvedModel {
  readonly config: CachedModelConfig;
  readonly provider: CachedProvider;
}

/**
 * The chat's model config when it still exists and is enabled, else the default one; and its provider,
 * which must be enabled. Reads only the config cache (zero queries when warm).
 */
export async function resolveChatModel(configCache: ChatConfigCache, chat: ChatRow): Promise<ResolvedModel> {
  let config: CachedModelConfig | undefined;
  if (chat.modelConfigId !== null) {
    const chosen = await configCache.getModelConfigById(chat.modelConfigId);
    if (chosen?.enabled) config = chosen;
  }
  config ??= await configCache.getDefaultModelConfig();
  if (!config) {
    throw new ModelUnavailableError(
      "this chat's model configuration is gone and there is no default one: an admin must create a model configuration",
    );
  }
  const providers = await configCache.getEnabledProviders();
  const provider = providers.find((candidate) => candidate.id === config.providerId);
  if (!provider) {
    throw new ModelUnavailableError(
      `the provider of model configuration '${config.displayName}' is disabled or gone`,
    );
  }
  return { config, provider };
}

/** Connections made so far, per secret box and cached provider entry. */
const connections = new WeakMap<SecretBox, WeakMap<CachedProvider, ProviderConnection>>();

/**
 * How to reach a resolved model's provider, its key decrypted. Made once per cached provider entry
 * (an edit or an invalidation replaces the entry, so a changed key is decrypted anew) rather than on
 * every call: the built model holds the key in memory for its calls all the same (`languageModelFor`),
 * and the entry goes when the cache drops it.
 */
export function providerConnectionOf(provider: CachedProvider, secretBox: SecretBox): ProviderConnection {
  let made = connections.get(secretBox);
  if (made === undefined) {
    made = new WeakMap();
    connections.set(secretBox, made);
  }
  let connection = made.get(provider);
  if (connection === undefined) {
    connection = Object.freeze({
      kind: provider.provider,
      apiKey: provider.apiKeyEncrypted ? secretBox.decrypt(provider.apiKeyEncrypted) : null,
      baseUrl: provider.baseUrl,
    });
    made.set(provider, connection);
  }
  return connection;
}

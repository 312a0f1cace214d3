import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import type { ProviderKind } from '../db/rows.js';
import { createBuiltinModel } from './builtin-model.js';
import { ProviderError } from './llm-errors.js';
import { createStreamReadingModel } from './openai-compatible-stream-model.js';
import { providerFetch } from './provider-fetch.js';

/** How to reach a provider: its kind, the decrypted API key and the base URL, as configured. */
export interface ProviderConnection {
  readonly kind: ProviderKind;
  /** Decrypted key; null (or '') when none is configured. */
  readonly apiKey: string | null;
  /** Base URL such as `https://api.example.com/v1`; null for the provider's default. */
  readonly baseUrl: string | null;
}

/**
 * The AI SDK model for a provider connection and a model name.
 *
 * - `openai`: `createOpenAI(...).chat(model)`, the Chat Completions API rather than the SDK's default
 *   Responses API, so an `openai` provider with a custom base URL works against OpenAI-compatible
 *   servers too (chatd only needs streamed text, which both APIs serve). Requires an API key.
 * - `openai-compat`: `@ai-sdk/openai-compatible` with `includeUsage` so streamed answers report token
 *   usage. Requires a base URL; the key is optional (local servers often need none).
 *   A streamed plain-text call (a chat turn) is read by chatd's own reader; see
 *   `openai-compatible-stream-model.ts`.
 * - `anthropic`: `@ai-sdk/anthropic`. Requires an API key.
 * - `builtin`: the offline models `echo` and `inspect`.
 *
 * A key is never read from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY): a provider row without
 * a key must not send the daemon's own key to whatever base URL the row names. Every provider connects
 * through {@link providerFetch}, which refuses link-local and cloud metadata addresses at connect time
 * (see `provider-address-policy.ts`), whatever the stored base URL or its name resolves to.
 *
 * @throws {ProviderError} (not retryable) when the connection is incomplete or the builtin model is unknown.
 */
export function createLanguageModel(provider: ProviderConnection, model: string): LanguageModelV3 {
  const apiKey = provider.apiKey || undefined;
  const baseURL = provider.baseUrl || undefined;
  const fetch = providerFetch();
  switch (provider.kind) {
    case 'openai':
      return createOpenAI({ apiKey: requireKey(provider.kind, apiKey), baseURL, fetch }).chat(model);
    case 'openai-compat': {
      if (!baseURL) throw incomplete('openai-compat provider has no base URL configured');
      const sdkModel = createOpenAICompatible({
        name: 'openai-compat',
        baseURL,
        apiKey,
        includeUsage: true,
        fetch,
      }).chatModel(model);
      return createStreamReadingModel({ sdkModel, baseURL, apiKey, fetch });
    }
    case 'anthropic':
      return createAnthropic({ apiKey: requireKey(provider.kind, apiKey), baseURL, fetch })(model);
    case 'builtin':
      return createBuiltinModel(model);
    default: {
      const unknownKind: never = provider.kind;
      throw incomplete(`unknown provider kind '${String(unknownKind)}'`);
    }
  }
}

/** Models built so far, by connection and model name; bounded, oldest dropped first. */
const builtModels = new Map<string, LanguageModelV3>();
const MAX_BUILT_MODELS = 256;

/**
 * {@link createLanguageModel}, memoised: a provider client is built once per connection (kind, base URL,
 * key) and model instead of on every turn. A changed key or base URL is a different entry, so an edited
 * provider is never served by a stale client; entries are plain in-process objects (the key stays in
 * memory, where the turn needs it anyway).
 */
export function languageModelFor(provider: ProviderConnection, model: string): LanguageModelV3 {
  const key = `${provider.kind}\u0000${provider.baseUrl ?? ''}\u0000${provider.apiKey ?? ''}\u0000${model}`;
  let built = builtModels.get(key);
  if (built === undefined) {
    built = createLanguageModel(provider, model);
    if (builtModels.size >= MAX_BUILT_MODELS) builtModels.delete(builtModels.keys().next().value!);
    builtModels.set(key, built);
  }
  return built;
}

function requireKey(kind: ProviderKind, apiKey: string | undefined): string {
  if (!apiKey) throw incomplete(`${kind} provider has no API key configured`);
  return apiKey;
}

function incomplete(message: string): ProviderError {
  return new ProviderError(message, { retryable: false });
}

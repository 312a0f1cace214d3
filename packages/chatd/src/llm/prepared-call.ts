import type { LanguageModelV3, LanguageModelV3Prompt } from '@ai-sdk/provider';
import type { JsonObject } from '../db/rows.js';
import { type ChatCallSettings, callSettingsFromOptions } from './call-settings.js';
import { languageModelFor, type ProviderConnection } from './language-model-factory.js';

/** What a model call is asked: the provider and model, the config's options, the prompt. */
export interface ModelCallRequest {
  readonly provider: ProviderConnection;
  readonly model: string;
  /** The model config's options; known keys map to call settings (see {@link callSettingsFromOptions}). */
  readonly options: JsonObject;
  /**
   * The output limit the prompt was fitted for (the model config's `max_output_tokens`): sent as the
   * call's `maxOutputTokens`, or the options' own limit when that is lower. Absent: the options decide.
   */
  readonly maxOutputTokens?: number;
  /** The assembled system prompt; '' sends none. */
  readonly system: string;
  readonly messages: ReadonlyArray<{ readonly role: 'user' | 'assistant'; readonly content: string }>;
}

/** A model call ready to send: the AI SDK model, its settings and its prompt. */
export interface PreparedCall {
  readonly model: LanguageModelV3;
  readonly settings: ChatCallSettings;
  readonly prompt: LanguageModelV3Prompt;
}

/**
 * The model, settings and prompt of `request`. Throws {@link ProviderError} (not retryable) when the
 * provider connection is incomplete (see `createLanguageModel`).
 */
export function prepareCall(request: ModelCallRequest): PreparedCall {
  return {
    model: languageModelFor(request.provider, request.model),
    settings: withOutputLimit(callSettingsFromOptions(request.options), request.maxOutputTokens),
    prompt: toPrompt(request.system, request.messages),
  };
}

/** The settings as the provider's call options take them (a mutable stop list). */
export function callOptionsOf(settings: ChatCallSettings) {
  const { stopSequences, ...numericSettings } = settings;
  return { ...numericSettings, stopSequences: stopSequences ? [...stopSequences] : undefined };
}

/** `settings` with `maxOutputTokens` at most `limit` (when given). */
function withOutputLimit(settings: ChatCallSettings, limit: number | undefined): ChatCallSettings {
  if (limit === undefined || (settings.maxOutputTokens !== undefined && settings.maxOutputTokens <= limit)) {
    return settings;
  }
  return Object.freeze({ ...settings, maxOutputTokens: limit });
}

/** The provider prompt, as `streamText` would build it from a system string and text messages. */
function toPrompt(system: string, messages: ModelCallRequest['messages']): LanguageModelV3Prompt {
  const prompt: LanguageModelV3Prompt = system === '' ? [] : [{ role: 'system', content: system }];
  for (const { role, content } of messages) prompt.push({ role, content: [{ type: 'text', text: content }] });
  return prompt;
}

/**
 * chatd's model layer: provider connections to AI SDK models, the offline builtin provider, and one
 * streamed chat turn with retries, one non-streamed text call.
 */
export {
  BUILTIN_MODELS,
  type BuiltinModelId,
  createBuiltinModel,
  type InspectReport,
  isBuiltinModelId,
} from './builtin-model.js';
export { type ChatCallSettings, callSettingsFromOptions } from './call-settings.js';
export {
  type ChatTurnRequest,
  type ChatTurnResult,
  DEFAULT_IDLE_TIMEOUT_MS,
  runChatTurn,
  type TurnOptions,
} from './chat-turn.js';
export { createLanguageModel, type ProviderConnection } from './language-model-factory.js';
export { ProviderError, type ProviderErrorDetails, TurnAbortedError } from './llm-errors.js';
export { type RetryPolicy, type RetryPolicyOptions, resolveRetryPolicy } from './retry-policy.js';
export { runTextCall, type TextCallOptions, type TextCallRequest, type TextCallResult } from './text-call.js';

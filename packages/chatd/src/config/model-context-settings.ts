import { InvalidInputError } from '../errors.js';

/**
 * A model config's context window settings: how large its prompts may be (`context_limit`), how much of
 * that is reserved for the answer (`max_output_tokens`) and when the history is compacted
 * (`compression_threshold`). The schema holds the same rules (migration 0011).
 */

/** The answer reserve of a config that sets none, unless a quarter of its context is less. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;
/** The default `compression_threshold`, a percentage of `context_limit`. */
export const DEFAULT_COMPRESSION_THRESHOLD = 70;
/** The largest `context_limit`: a PostgreSQL integer. */
export const MAX_CONTEXT_LIMIT = 2_147_483_647;

/**
 * The answer reserve when a config sets none: {@link DEFAULT_MAX_OUTPUT_TOKENS}, but never more than a
 * quarter of the context (at least 1 token).
 */
export function defaultMaxOutputTokens(contextLimit: number): number {
  return Math.max(1, Math.min(DEFAULT_MAX_OUTPUT_TOKENS, Math.floor(contextLimit / 4)));
}

/** The most `max_output_tokens` may be: half the context (the other half is left for the prompt). */
export function maxOutputTokensLimit(contextLimit: number): number {
  return Math.floor(contextLimit / 2);
}

/** The answer reserve a config has: its own `max_output_tokens` (null: the default). */
export function effectiveMaxOutputTokens(config: {
  readonly contextLimit: number;
  readonly maxOutputTokens: number | null;
}): number {
  return config.maxOutputTokens ?? defaultMaxOutputTokens(config.contextLimit);
}

/**
 * Checks a config's context settings as they will be after a write; `maxOutputTokens` null is the
 * default (always valid). @throws {InvalidInputError} with a message naming the API fields.
 */
export function requireContextSettings(settings: {
  readonly contextLimit: number;
  readonly maxOutputTokens: number | null;
  readonly compressionThreshold: number;
}): void {
  const { contextLimit, maxOutputTokens, compressionThreshold } = settings;
  if (!Number.isInteger(contextLimit) || contextLimit <= 0 || contextLimit > MAX_CONTEXT_LIMIT) {
    throw new InvalidInputError(`context_limit must be a positive integer (at most ${MAX_CONTEXT_LIMIT})`);
  }
  if (maxOutputTokens !== null) {
    const limit = maxOutputTokensLimit(contextLimit);
    if (!Number.isInteger(maxOutputTokens) || maxOutputTokens <= 0 || maxOutputTokens > limit) {
      throw new InvalidInputError(
        limit < 1
          ? `max_output_tokens cannot be set with a context_limit of ${contextLimit}: leave it out (null) for the default`
          : `max_output_tokens must be a positive integer of at most half the context_limit (${limit} for a context_limit of ${contextLimit}), or null for the default`,
      );
    }
  }
  if (!Number.isInteger(compressionThreshold) || compressionThreshold < 1 || compressionThreshold > 100) {
    throw new InvalidInputError('compression_threshold must be an integer percentage from 1 to 100');
  }
}

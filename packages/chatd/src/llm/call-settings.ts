import type { JsonObject, JsonValue } from '../db/rows.js';

/** The AI SDK call settings a model config's `options` can set. Absent keys use the provider's default. */
export interface ChatCallSettings {
  readonly temperature?: number;
  readonly maxOutputTokens?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  readonly stopSequences?: readonly string[];
  readonly seed?: number;
}

type NumericSetting = Exclude<keyof ChatCallSettings, 'stopSequences'>;
type NumberKind = 'number' | 'integer' | 'positive-integer';

/** Option keys accepted for each setting, snake_case (the API's spelling) first; the first valid one wins. */
const NUMERIC_SETTINGS: ReadonlyArray<readonly [NumericSetting, readonly string[], NumberKind]> = [
  ['temperature', ['temperature'], 'number'],
  [
    'maxOutputTokens',
    ['max_output_tokens', 'maxOutputTokens', 'max_tokens', 'maxTokens'],
    'positive-integer',
  ],
  ['topP', ['top_p', 'topP'], 'number'],
  ['topK', ['top_k', 'topK'], 'positive-integer'],
  ['presencePenalty', ['presence_penalty', 'presencePenalty'], 'number'],
  ['frequencyPenalty', ['frequency_penalty', 'frequencyPenalty'], 'number'],
  ['seed', ['seed'], 'integer'],
];
const STOP_SEQUENCE_KEYS: readonly string[] = ['stop_sequences', 'stopSequences', 'stop'];

/**
 * Maps a model config's `options` to AI SDK call settings (frozen). Unknown keys are ignored, and so are
 * values of the wrong type (a string temperature, a fractional token limit): a turn never fails because
 * of a malformed option, the provider default applies instead. `stop` may be a string or a string array.
 */
export function callSettingsFromOptions(options: JsonObject): ChatCallSettings {
  const settings: { -readonly [K in keyof ChatCallSettings]: ChatCallSettings[K] } = {};
  // Rows are typed, but a hand-edited jsonb value may not be an object: treat that as no options.
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    return Object.freeze(settings);
  for (const [setting, keys, kind] of NUMERIC_SETTINGS) {
    const value = firstValid(options, keys, (candidate) => isNumberOfKind(candidate, kind));
    if (value !== undefined) settings[setting] = value as number;
  }
  const stop = firstValid(options, STOP_SEQUENCE_KEYS, isStopSequences);
  if (stop !== undefined) {
    settings.stopSequences = Object.freeze(typeof stop === 'string' ? [stop] : (stop as string[]).slice());
  }
  return Object.freeze(settings);
}

function firstValid(
  options: JsonObject,
  keys: readonly string[],
  isValid: (value: JsonValue) => boolean,
): JsonValue | undefined {
  for (const key of keys) {
    if (!Object.hasOwn(options, key)) continue;
    const value = options[key];
    if (value !== undefined && isValid(value)) return value;
  }
  return undefined;
}

function isNumberOfKind(value: JsonValue, kind: NumberKind): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (kind === 'number') return true;
  return Number.isSafeInteger(value) && (kind === 'integer' || value >= 1);
}

function isStopSequences(value: JsonValue): boolean {
  if (typeof value === 'string') return value.length > 0;
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string');
}

import { randomUUID } from 'node:crypto';
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3GenerateResult,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
} from '@ai-sdk/provider';
import { ProviderError } from './llm-errors.js';
import { SUMMARY_INSTRUCTION } from './summary-prompt.js';
import { loadTokenCounter, tokenizerFor } from './token-counter.js';

/** Models of the `builtin` provider: offline, deterministic, for tests and for checking a deployment. */
export const BUILTIN_MODELS = ['echo', 'inspect'] as const;
export type BuiltinModelId = (typeof BUILTIN_MODELS)[number];

/** The JSON document the `inspect` model answers with: what the model was asked, as it received it. */
export interface InspectReport {
  readonly model: 'inspect';
  /** The system prompt (several system messages joined by a blank line), or null when there was none. */
  readonly system: string | null;
  /** Number of non-system messages. */
  readonly message_count: number;
  /** Each non-system message's role and text length, in order. */
  readonly messages: ReadonlyArray<{ readonly role: string; readonly length: number }>;
  /** The call settings that were set (temperature, maxOutputTokens, topP, ...); unset ones are absent. */
  readonly options: Readonly<Record<string, number | readonly string[]>>;
  /**
   * The prompt's size in tokens, counted as chatd counts the builtin models' prompts (`o200k_base`, with
   * OpenAI's per-message overhead: see `token-counter.ts`).
   */
  readonly prompt_tokens: number;
}

/** True for the model names the builtin provider serves. */
export function isBuiltinModelId(model: string): model is BuiltinModelId {
  return (BUILTIN_MODELS as readonly string[]).includes(model);
}

/**
 * A builtin model as an AI SDK LanguageModelV3 (the specification `ai` 6 calls natively). No network:
 * `echo` answers with the last user message, `inspect` with an {@link InspectReport}; asked for a summary
 * (the system prompt is `SUMMARY_INSTRUCTION`), both answer with {@link builtinSummary}. Both stream the
 * answer in word-sized chunks, yielding to the event loop between chunks so an abort lands mid-stream,
 * and report usage estimated at four characters per token. Unknown model → {@link ProviderError}.
 */
export function createBuiltinModel(model: string): LanguageModelV3 {
  if (!isBuiltinModelId(model)) {
    throw new ProviderError(
      `builtin provider has no model '${model}' (available: ${BUILTIN_MODELS.join(', ')})`,
      { retryable: false },
    );
  }
  return new BuiltinLanguageModel(model);
}

const CALL_SETTING_KEYS = [
  'temperature',
  'maxOutputTokens',
  'topP',
  'topK',
  'presencePenalty',
  'frequencyPenalty',
  'stopSequences',
  'seed',
] as const satisfies ReadonlyArray<keyof LanguageModelV3CallOptions>;

const STOP: LanguageModelV3GenerateResult['finishReason'] = { unified: 'stop', raw: 'stop' };

class BuiltinLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'builtin';
  readonly supportedUrls = {};

  constructor(readonly modelId: BuiltinModelId) {}

  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    throwIfAborted(options.abortSignal);
    const text = await this.answer(options);
    return {
      content: text ? [{ type: 'text', text }] : [],
      finishReason: STOP,
      usage: estimateUsage(options.prompt, text),
      response: { id: `builtin-${randomUUID()}`, modelId: this.modelId, timestamp: new Date() },
      warnings: [],
    };
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    throwIfAborted(options.abortSignal);
    const text = await this.answer(options);
    throwIfAborted(options.abortSignal);
    const parts = streamParts(text, this.modelId, estimateUsage(options.prompt, text));
    const signal = options.abortSignal;
    let next = 0;
    const stream = new ReadableStream<LanguageModelV3StreamPart>({
      async pull(controller) {
        if (parts[next - 1]?.type === 'text-delta') await new Promise((resolve) => setImmediate(resolve));
        if (signal?.aborted) {
          controller.error(abortError());
          return;
        }
        const part = parts[next++];
        if (part) controller.enqueue(part);
        else controller.close();
      },
    });
    return { stream };
  }

  private async answer(options: LanguageModelV3CallOptions): Promise<string> {
    const [first] = options.prompt;
    if (first?.role === 'system' && first.content === SUMMARY_INSTRUCTION) {
      return builtinSummary(lastUserText(options.prompt), options.maxOutputTokens);
    }
    return this.modelId === 'echo'
      ? lastUserText(options.prompt)
      : JSON.stringify(await inspectReport(options), null, 2);
  }
}

/** Words of each transcript message that a builtin summary keeps. */
const SUMMARY_WORDS_PER_MESSAGE = 8;

/**
 * What the builtin models answer to a summary call: `Summary:`, the previous summary's text, and the first
 * words of each message of the transcript (`[role] text` blocks, see `summaryTranscript`), joined by
 * ` / `; at most `maxOutputTokens` UTF-8 bytes, so that it is within the limit in any byte-level
 * tokenizer. Deterministic, for tests.
 */
export function builtinSummary(transcript: string, maxOutputTokens: number | undefined): string {
  const heads: string[] = [];
  const previous = /^<previous-summary>\n(?:Summary: )?([\s\S]*?)\n<\/previous-summary>/.exec(transcript);
  if (previous?.[1]) heads.push(previous[1]);
  for (const match of transcript.matchAll(/^\[(user|assistant)\] (.*)$/gm)) {
    const words = match[2]!.split(/\s+/).filter((word) => word !== '');
    heads.push(`${match[1]}: ${words.slice(0, SUMMARY_WORDS_PER_MESSAGE).join(' ')}`);
  }
  const summary = `Summary: ${heads.join(' / ')}`;
  return maxOutputTokens === undefined ? summary : truncateUtf8(summary, maxOutputTokens);
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes (never half a character). */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    bytes += Buffer.byteLength(char, 'utf8');
    if (bytes > maxBytes) break;
    end += char.length;
  }
  return text.slice(0, end);
}

async function inspectReport(options: LanguageModelV3CallOptions): Promise<InspectReport> {
  const system = options.prompt.filter((message) => message.role === 'system').map((m) => m.content);
  const conversation = options.prompt.filter((message) => message.role !== 'system');
  const settings: Record<string, number | readonly string[]> = {};
  for (const key of CALL_SETTING_KEYS) {
    const value = options[key];
    if (value !== undefined) settings[key] = value;
  }
  return {
    model: 'inspect',
    system: system.length > 0 ? system.join('\n\n') : null,
    message_count: conversation.length,
    messages: conversation.map((message) => ({ role: message.role, length: messageText(message).length })),
    options: settings,
    prompt_tokens: await promptTokens(options.prompt),
  };
}

/** The prompt's tokens as chatd counts a builtin model's prompt. */
async function promptTokens(prompt: LanguageModelV3Prompt): Promise<number> {
  const counter = await loadTokenCounter(tokenizerFor('builtin', 'inspect'));
  let tokens = counter.primingTokens;
  for (const message of prompt) tokens += counter.countMessage(message.role, messageText(message));
  return tokens;
}

function lastUserText(prompt: LanguageModelV3Prompt): string {
  const lastUser = prompt.findLast((message) => message.role === 'user');
  return lastUser ? messageText(lastUser) : '';
}

function messageText(message: LanguageModelV3Prompt[number]): string {
  if (message.role === 'system') return message.content;
  let text = '';
  for (const part of message.content) {
    if (part.type === 'text' || part.type === 'reasoning') text += part.text;
  }
  return text;
}

function streamParts(
  text: string,
  modelId: string,
  usage: LanguageModelV3Usage,
): LanguageModelV3StreamPart[] {
  const id = 'text-0';
  const deltas: LanguageModelV3StreamPart[] = splitIntoChunks(text).map((delta) => ({
    type: 'text-delta',
    id,
    delta,
  }));
  return [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: `builtin-${randomUUID()}`, modelId, timestamp: new Date() },
    ...(deltas.length > 0
      ? [{ type: 'text-start', id } as const, ...deltas, { type: 'text-end', id } as const]
      : []),
    { type: 'finish', usage, finishReason: STOP },
  ];
}

/** Word-sized chunks (each word with the whitespace around it) that concatenate back to `text`. */
export function splitIntoChunks(text: string): string[] {
  if (text === '') return [];
  return text.match(/\s*\S+\s*/g) ?? [text];
}

function estimateUsage(prompt: LanguageModelV3Prompt, answer: string): LanguageModelV3Usage {
  const input = estimateTokens(prompt.reduce((chars, message) => chars + messageText(message).length, 0));
  const output = estimateTokens(answer.length);
  return {
    inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  };
}

function estimateTokens(characters: number): number {
  return Math.ceil(characters / 4);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError();
}

/** What `fetch` rejects with on abort: the AI SDK recognises it and reports an abort, not an error. */
function abortError(): DOMException {
  return new DOMException('This operation was aborted', 'AbortError');
}

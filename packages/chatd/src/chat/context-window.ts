import { ChatdError } from '../errors.js';

/**
 * Fitting a prompt into a model's context window: pure functions over token counts (no tokenizer, no
 * database), used by `turn-prompt.ts` and unit-tested on their own.
 *
 * A prompt is the system message (the system prompt, the user's instructions and, when there is one, the
 * chat's summary), the messages after the summary, and the reply priming. It must leave the model config's
 * `max_output_tokens` free for the answer: {@link promptBudget}. Past the compression threshold
 * ({@link compactionTrigger}) the older messages are summarised ({@link planCompaction}); whatever still
 * does not fit is dropped, oldest first ({@link fitPrompt}). The newest message is never dropped: when it
 * does not fit alone, the turn fails ({@link PromptTooLargeError}).
 */

/** A model config's context window settings, resolved (the answer reserve is a number). */
export interface ContextBudget {
  readonly contextLimit: number;
  /** The reserve for the answer. */
  readonly maxOutputTokens: number;
  /** A percentage of `contextLimit`. */
  readonly compressionThreshold: number;
}

/** A message of the history as the window sees it: its role and what it adds to a prompt. */
export interface WindowMessage {
  readonly role: 'user' | 'assistant';
  /** Tokens it adds to the prompt: per-message overhead, role and content. */
  readonly tokens: number;
}

/** A prompt, as token counts. */
export interface PromptShape {
  /** Tokens always sent: the system message (0 when there is none) and the reply priming. */
  readonly fixedTokens: number;
  /** Tokens the summary adds when it is sent; null when the chat has none. */
  readonly summaryTokens: number | null;
  /** The messages after the summary, oldest first; the last one is the newest (the one answered). */
  readonly messages: readonly WindowMessage[];
}

/** The tokens a prompt may have: the context less the answer reserve. */
export function promptBudget(budget: ContextBudget): number {
  return budget.contextLimit - budget.maxOutputTokens;
}

/**
 * A prompt of more tokens than this has its history compacted: `compression_threshold` percent of the
 * context, and never more than {@link promptBudget} (a threshold of 100 compacts only what would not fit).
 */
export function compactionTrigger(budget: ContextBudget): number {
  return Math.min(
    Math.floor((budget.contextLimit * budget.compressionThreshold) / 100),
    promptBudget(budget),
  );
}

/** The most tokens a summary may have: a tenth of the context, and no more than the answer reserve. */
export function summaryMaxTokens(budget: ContextBudget): number {
  return Math.max(1, Math.min(budget.maxOutputTokens, Math.floor(budget.contextLimit / 10)));
}

/** Tokens of the whole prompt: the fixed part, the summary, every message. */
export function promptTokens(shape: PromptShape): number {
  let total = shape.fixedTokens + (shape.summaryTokens ?? 0);
  for (const message of shape.messages) total += message.tokens;
  return total;
}

/** What {@link fitPrompt} decided. */
export type FitResult =
  | {
      readonly kind: 'fits';
      /** Messages from this index on are sent; those before it are dropped. */
      readonly keepFrom: number;
      /** Whether the summary is sent. */
      readonly withSummary: boolean;
      /** Tokens of the prompt as sent. */
      readonly tokens: number;
    }
  | {
      readonly kind: 'too-large';
      /** Tokens of the smallest prompt that answers the newest message: the fixed part and that message. */
      readonly needed: number;
      /** Tokens a prompt may have. */
      readonly available: number;
    };

/**
 * Fits a prompt into `available` tokens, in this order of priority: the fixed part and the newest
 * message (or the prompt is too large); then the summary; then the earlier messages, newest first, as
 * long as each fits (the oldest are dropped). The messages sent start with a user message (a
 * conversation that starts with an answer confuses models, and some providers refuse it).
 */
export function fitPrompt(shape: PromptShape, available: number): FitResult {
  const { messages } = shape;
  const newest = messages.at(-1);
  if (!newest) throw new Error('fitPrompt needs the message to answer');
  const needed = shape.fixedTokens + newest.tokens;
  if (needed > available) return { kind: 'too-large', needed, available };
  let tokens = needed;
  let withSummary = false;
  if (shape.summaryTokens !== null && tokens + shape.summaryTokens <= available) {
    withSummary = true;
    tokens += shape.summaryTokens;
  }
  let keepFrom = messages.length - 1;
  while (keepFrom > 0 && tokens + messages[keepFrom - 1]!.tokens <= available) {
    keepFrom -= 1;
    tokens += messages[keepFrom]!.tokens;
  }
  while (keepFrom < messages.length - 1 && messages[keepFrom]!.role !== 'user') {
    tokens -= messages[keepFrom]!.tokens;
    keepFrom += 1;
  }
  return { kind: 'fits', keepFrom, withSummary, tokens };
}

/** How a compaction runs: see {@link planCompaction}. */
export type CompactionMode =
  /** Past the threshold: the newest messages that fit in half the threshold are kept. */
  | 'threshold'
  /** Asked for by hand before an answer: everything but the newest message is summarised. */
  | 'requested'
  /** Asked for by hand with nothing to answer: everything is summarised. */
  | 'requested-only';

/**
 * How many of the oldest messages a compaction summarises (`messages.slice(0, count)`); 0 when there is
 * nothing to summarise. Past the threshold, the newest messages within half of {@link compactionTrigger}
 * (less the fixed part) stay as they are, so that the next compaction is several turns away; the newest
 * message always stays. The kept part starts with a user message, so the summary ends with an answer.
 */
export function planCompaction(shape: PromptShape, budget: ContextBudget, mode: CompactionMode): number {
  const { messages } = shape;
  if (mode === 'requested-only') return messages.length;
  let keepFrom = messages.length - 1;
  if (mode === 'threshold') {
    const keepTokens = Math.floor(compactionTrigger(budget) / 2) - shape.fixedTokens;
    let kept = messages[keepFrom]?.tokens ?? 0;
    while (keepFrom > 0 && kept + messages[keepFrom - 1]!.tokens <= keepTokens) {
      keepFrom -= 1;
      kept += messages[keepFrom]!.tokens;
    }
  }
  while (keepFrom > 0 && keepFrom < messages.length - 1 && messages[keepFrom]!.role !== 'user') keepFrom += 1;
  return Math.max(0, keepFrom);
}

/**
 * How many of `candidates` (the oldest first) one summary call can take: the longest prefix whose
 * tokens fit in `inputBudget` (what the call's context leaves for them). 0 when not even the first fits.
 */
export function summaryInputCount(candidates: readonly WindowMessage[], inputBudget: number): number {
  let tokens = 0;
  let count = 0;
  for (const message of candidates) {
    if (tokens + message.tokens > inputBudget) break;
    tokens += message.tokens;
    count += 1;
  }
  return count;
}

/** The newest message cannot be sent: with the system prompt and the answer reserve it exceeds the context. */
export class PromptTooLargeError extends ChatdError {
  constructor(message: string) {
    super('E_PROMPT_TOO_LARGE', message);
  }
}

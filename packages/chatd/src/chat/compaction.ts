import type { Logger } from 'pino';
import type { JsonObject } from '../db/rows.js';
import type { Store } from '../db/store.js';
import type { TurnOptions } from '../llm/chat-turn.js';
import type { ProviderConnection } from '../llm/language-model-factory.js';
import { TurnAbortedError } from '../llm/llm-errors.js';
import { summariseConversation } from '../llm/summary-call.js';
import {
  SUMMARY_INSTRUCTION,
  TRANSCRIPT_TOKENS_PER_MESSAGE,
  TRANSCRIPT_WRAPPER_TOKENS,
} from '../llm/summary-prompt.js';
import type { TokenCounter } from '../llm/token-counter.js';
import {
  type CompactionMode,
  type ContextBudget,
  type PromptShape,
  planCompaction,
  summaryInputCount,
  summaryMaxTokens,
} from './context-window.js';
import type { ResolvedModel } from './model-resolution.js';
import type { ConversationMessage, TurnSummary } from './turn-prompt.js';

/** A summary a compaction wrote (or, when storing it failed, made for this turn only). */
export interface Compaction extends TurnSummary {
  /** Its size in the chat's tokenizer. */
  readonly tokenCount: number;
}

/** What {@link compactHistory} works on. */
export interface CompactionRequest {
  readonly chatId: string;
  /** The turn's claim: the summary is stored only while it owns the chat. */
  readonly claimId: string;
  readonly model: ResolvedModel;
  readonly connection: ProviderConnection;
  readonly counter: TokenCounter;
  /** Counts a text (memoised by the caller). */
  countText(text: string): number;
  readonly budget: ContextBudget;
  /** The prompt's token counts; `shape.messages[i]` counts `messages[i]`. */
  readonly shape: PromptShape;
  readonly mode: CompactionMode;
  readonly previousSummary: TurnSummary | null;
  readonly messages: readonly ConversationMessage[];
  readonly signal: AbortSignal;
}

/**
 * Summarises the older part of a chat's history with the chat's own model and stores the summary: it
 * then stands for those messages in later prompts (messages themselves are never deleted). Which
 * messages: {@link planCompaction}; as many of them, oldest first, as one summary call's context can take
 * with the previous summary (the rest waits for a later compaction).
 *
 * One summary call per compaction, with the turn's retry policy: a turn calls the provider at most
 * 1 + retries times for its summary and 1 + retries times for its answer. Resolves null when nothing was
 * summarised: nothing to summarise, or the summary call failed (a provider error, the idle timeout, an
 * empty summary), logged; the caller then leaves the oldest messages out instead. Rejects only with
 * `TurnAbortedError` (the turn was interrupted or lost its claim during the call).
 *
 * Storing can fail too (the database, or a claim lost meanwhile): the summary still serves this turn,
 * and a later turn compacts again.
 */
/** How a compaction that called the model went: the `outcome` of `chatd_chat_compactions_total`. */
export type CompactionOutcome = 'summarised' | 'failed';

export async function compactHistory(
  deps: {
    store: Store;
    logger: Logger;
    turnOptions: TurnOptions;
    onOutcome?: ((outcome: CompactionOutcome) => void) | undefined;
  },
  request: CompactionRequest,
): Promise<Compaction | null> {
  const { budget, counter, shape, messages, previousSummary } = request;
  const count = planCompaction(shape, budget, request.mode);
  if (count === 0) return null;
  const maxTokens = summaryMaxTokens(budget);
  const overhead =
    counter.primingTokens +
    counter.countMessage('system', SUMMARY_INSTRUCTION) +
    counter.countMessage('user', '') +
    TRANSCRIPT_WRAPPER_TOKENS +
    (previousSummary === null ? 0 : request.countText(previousSummary.content));
  const take = summaryInputCount(
    shape.messages
      .slice(0, count)
      .map((message) => ({ ...message, tokens: message.tokens + TRANSCRIPT_TOKENS_PER_MESSAGE })),
    budget.contextLimit - maxTokens - overhead,
  );
  const log = { chatId: request.chatId, modelConfigId: request.model.config.id };
  if (take === 0) {
    deps.logger.warn(
      log,
      'the oldest message is too large for a summary call; leaving old messages out of the prompt instead',
    );
    return null;
  }
  const summarised = messages.slice(0, take);
  let text: string;
  let usage: { inputTokens: number | null; outputTokens: number | null };
  try {
    const result = await summariseConversation(
      {
        provider: request.connection,
        model: request.model.config.model,
        options: request.model.config.options as JsonObject,
        previousSummary: previousSummary?.content ?? null,
        messages: summarised,
        maxOutputTokens: maxTokens,
        signal: request.signal,
      },
      deps.turnOptions,
    );
    text = result.text.trim();
    usage = result.usage;
    if (text === '') throw new Error('the model answered the summary call with nothing');
  } catch (error) {
    // Interrupted (or the claim lost) during the summary: the turn ends as interrupted, and the partial
    // text of the summary is not its answer's.
    if (error instanceof TurnAbortedError) throw new TurnAbortedError('', { cause: error.cause });
    deps.logger.warn(
      { ...log, err: error },
      'summarising the history failed; leaving the oldest messages out of the prompt instead',
    );
    deps.onOutcome?.('failed');
    return null;
  }
  deps.onOutcome?.('summarised');
  const compaction: Compaction = {
    content: text,
    throughMessageId: summarised.at(-1)!.id,
    tokenCount: request.countText(text),
  };
  try {
    const stored = await deps.store.saveChatSummary({
      chatId: request.chatId,
      claimId: request.claimId,
      content: compaction.content,
      throughMessageId: compaction.throughMessageId,
      tokenCount: compaction.tokenCount,
      modelConfigId: request.model.config.id,
      inputTokens: usage.inputTokens ?? 0,
      outputTokens: usage.outputTokens ?? 0,
    });
    if (!stored) deps.logger.info(log, 'the summary was not stored: the turn lost its claim meanwhile');
  } catch (error) {
    deps.logger.warn({ ...log, err: error }, 'could not store the summary; it serves this turn only');
  }
  deps.logger.info(
    {
      ...log,
      summarised: take,
      throughMessageId: compaction.throughMessageId,
      tokens: compaction.tokenCount,
    },
    'compacted the history of a chat',
  );
  return compaction;
}

import type { Logger } from 'pino';
import { effectiveMaxOutputTokens } from '../config/model-context-settings.js';
import type { Store } from '../db/store.js';
import type { TurnOptions } from '../llm/chat-turn.js';
import type { ProviderConnection } from '../llm/language-model-factory.js';
import {
  loadTokenCounter,
  messageTokenBound,
  primingTokens,
  type TokenCounter,
  type TokenizerChoice,
  tokenizerFor,
} from '../llm/token-counter.js';
import { type Compaction, type CompactionOutcome, compactHistory } from './compaction.js';
import {
  type CompactionMode,
  type ContextBudget,
  compactionTrigger,
  fitPrompt,
  type PromptShape,
  PromptTooLargeError,
  promptBudget,
  promptTokens,
} from './context-window.js';
import type { ResolvedModel } from './model-resolution.js';

/** A message of the conversation a turn sends (failed and empty answers already left out). */
export interface ConversationMessage {
  readonly id: number;
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

/** The chat's summary as a turn uses it. */
export interface TurnSummary {
  readonly content: string;
  /** It stands for every message up to this id. */
  readonly throughMessageId: number;
}

/** What a turn asks {@link TurnPrompts} for. */
export interface TurnPromptRequest {
  readonly chatId: string;
  /** The turn's claim: a summary is stored only while it owns the chat. */
  readonly claimId: string;
  readonly model: ResolvedModel;
  /** The model's provider connection (its key decrypted). */
  readonly connection: ProviderConnection;
  /** The assembled system prompt (deployment prompt and user instructions); '' for none. */
  readonly system: string;
  readonly summary: TurnSummary | null;
  /**
   * The messages after the summary, oldest first. For {@link TurnPrompts.prepare} the last one is the user
   * message the turn answers.
   */
  readonly messages: readonly ConversationMessage[];
  /** Compact first whatever the size (`POST /chats/{id}/compact`). */
  readonly compactRequested: boolean;
  /** The turn's signal: an interrupt or a lost claim stops a summary call too. */
  readonly signal: AbortSignal;
}

/** The prompt a turn sends, fitted to its model's context window. */
export interface PreparedPrompt {
  /** The system prompt, with the summary when it is sent. */
  readonly system: string;
  readonly messages: ReadonlyArray<{ role: 'user' | 'assistant'; content: string }>;
  /** The answer reserve: the provider's output limit for the answer. */
  readonly maxOutputTokens: number;
}

/** Token counts remembered per replica (message ids and text hashes): one number each. */
const MAX_REMEMBERED_COUNTS = 50_000;

/**
 * Fits each turn's prompt to its model config's context window (`context-window.ts` decides, this
 * counts, calls and stores): the system prompt, the summary and the history, with `max_output_tokens`
 * left for the answer. Past the compression threshold (or when asked) it compacts first: the older
 * messages are summarised by the chat's model and the summary is stored (`compaction.ts`); when that
 * fails, the oldest messages are left out instead. A newest message that cannot fit fails the turn
 * before any provider call ({@link PromptTooLargeError}).
 *
 * Cost on the hot path: none of this reads the database (the summary comes with the history, in the
 * statement that read it before). A turn whose history is obviously small (an upper bound from UTF-8
 * byte lengths is under the threshold) loads no tokenizer and counts nothing; otherwise each message is
 * tokenized once per replica (counts are remembered by message id and a hash of the text).
 */
export class TurnPrompts {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #turnOptions: TurnOptions;
  readonly #counts = new Map<string, number>();
  readonly #onCompaction: ((outcome: CompactionOutcome) => void) | undefined;

  constructor(
    deps: { store: Store; logger: Logger; onCompaction?: (outcome: CompactionOutcome) => void },
    turnOptions: TurnOptions,
  ) {
    this.#store = deps.store;
    this.#logger = deps.logger;
    this.#turnOptions = turnOptions;
    this.#onCompaction = deps.onCompaction;
  }

  /**
   * The prompt that answers the last message of `request.messages`, compacting first when it is past
   * the threshold. Rejects with {@link PromptTooLargeError} when the newest message cannot fit, and with
   * `TurnAbortedError` when the signal aborts during a summary call.
   */
  async prepare(request: TurnPromptRequest): Promise<PreparedPrompt> {
    const budget = budgetOf(request.model);
    const choice = tokenizerFor(request.model.provider.provider, request.model.config.model);
    let { summary, messages } = request;
    if (!request.compactRequested) {
      const bound = boundShape(choice, request.system, summary, messages);
      if (promptTokens(bound) <= compactionTrigger(budget)) {
        return assemble(request.system, summary, messages, budget.maxOutputTokens);
      }
    }
    const counter = await loadTokenCounter(choice);
    let shape = this.#shape(counter, request.system, summary, messages);
    const available = promptBudget(budget);
    // Checked before any compaction: a message that can never be sent costs no provider call at all.
    const fit = fitPrompt(shape, available);
    if (fit.kind === 'too-large') throw tooLarge(request.model, budget, fit.needed, counter.choice.exact);
    if (request.compactRequested || promptTokens(shape) > compactionTrigger(budget)) {
      const mode: CompactionMode = request.compactRequested ? 'requested' : 'threshold';
      const compacted = await this.#compact(request, counter, budget, shape, mode);
      if (compacted) {
        summary = compacted;
        messages = messages.filter((message) => message.id > compacted.throughMessageId);
        shape = this.#shape(counter, request.system, summary, messages);
      }
    }
    // Whatever still does not fit (a failed summary, a summary that covers too little) is dropped,
    // oldest first; the newest message fits (checked above, and a summary never covers it).
    const fitted = fitPrompt(shape, available);
    if (fitted.kind === 'too-large')
      throw tooLarge(request.model, budget, fitted.needed, counter.choice.exact);
    if (fitted.keepFrom > 0 || (summary !== null && !fitted.withSummary)) {
      this.#logger.info(
        {
          chatId: request.chatId,
          dropped: fitted.keepFrom,
          summaryDropped: summary !== null && !fitted.withSummary,
          promptTokens: fitted.tokens,
        },
        'left the oldest messages out of the prompt to fit the context window',
      );
    }
    return assemble(
      request.system,
      fitted.withSummary ? summary : null,
      messages.slice(fitted.keepFrom),
      budget.maxOutputTokens,
    );
  }

  /**
   * Compacts the whole history (`POST /chats/{id}/compact` on a chat with nothing to answer): every
   * message after the summary is summarised. A failed summary is logged and changes nothing.
   */
  async compactOnly(request: TurnPromptRequest): Promise<void> {
    if (request.messages.length === 0) return;
    const budget = budgetOf(request.model);
    const counter = await loadTokenCounter(
      tokenizerFor(request.model.provider.provider, request.model.config.model),
    );
    const shape = this.#shape(counter, request.system, request.summary, request.messages);
    await this.#compact(request, counter, budget, shape, 'requested-only');
  }

  async #compact(
    request: TurnPromptRequest,
    counter: TokenCounter,
    budget: ContextBudget,
    shape: PromptShape,
    mode: CompactionMode,
  ): Promise<Compaction | null> {
    return compactHistory(
      {
        store: this.#store,
        logger: this.#logger,
        turnOptions: this.#turnOptions,
        onOutcome: this.#onCompaction,
      },
      {
        chatId: request.chatId,
        claimId: request.claimId,
        model: request.model,
        connection: request.connection,
        counter,
        countText: (text) => this.#countText(counter, text),
        budget,
        shape,
        mode,
        previousSummary: request.summary,
        messages: request.messages,
        signal: request.signal,
      },
    );
  }

  /** The prompt's token counts, with the summary as {@link assemble} sends it. */
  #shape(
    counter: TokenCounter,
    system: string,
    summary: TurnSummary | null,
    messages: readonly ConversationMessage[],
  ): PromptShape {
    const block = summary === null ? null : summaryBlock(summary.content);
    return {
      fixedTokens:
        counter.primingTokens + (system === '' ? 0 : this.#countMessage(counter, 'system', system)),
      // Sent inside the system message: when there is one, it adds its text (and a token of slack for the
      // join); otherwise it is the system message.
      summaryTokens:
        block === null
          ? null
          : system === ''
            ? this.#countMessage(counter, 'system', block)
            : this.#countText(counter, `\n\n${block}`) + 1,
      messages: messages.map((message) => ({
        role: message.role,
        tokens: this.#countMessage(counter, message.role, message.content),
      })),
    };
  }

  #countMessage(counter: TokenCounter, role: string, content: string): number {
    return this.#remember(`m:${role}:${keyOf(counter.choice, content)}`, () =>
      counter.countMessage(role, content),
    );
  }

  #countText(counter: TokenCounter, text: string): number {
    return this.#remember(`t:${keyOf(counter.choice, text)}`, () => counter.countText(text));
  }

  /** A bounded, least-recently-used memo of token counts. */
  #remember(key: string, count: () => number): number {
    const known = this.#counts.get(key);
    if (known !== undefined) {
      this.#counts.delete(key);
      this.#counts.set(key, known);
      return known;
    }
    const tokens = count();
    if (this.#counts.size >= MAX_REMEMBERED_COUNTS) {
      this.#counts.delete(this.#counts.keys().next().value!);
    }
    this.#counts.set(key, tokens);
    return tokens;
  }
}

/** A model config's context window settings, resolved. */
function budgetOf(model: ResolvedModel): ContextBudget {
  return {
    contextLimit: model.config.contextLimit,
    maxOutputTokens: effectiveMaxOutputTokens(model.config),
    compressionThreshold: model.config.compressionThreshold,
  };
}

/** Upper bounds of the prompt's token counts, from UTF-8 byte lengths (no tokenizer). */
function boundShape(
  choice: TokenizerChoice,
  system: string,
  summary: TurnSummary | null,
  messages: readonly ConversationMessage[],
): PromptShape {
  return {
    fixedTokens: primingTokens(choice) + (system === '' ? 0 : messageTokenBound(choice, 'system', system)),
    summaryTokens:
      summary === null ? null : messageTokenBound(choice, 'system', summaryBlock(summary.content)),
    messages: messages.map((message) => ({
      role: message.role,
      tokens: messageTokenBound(choice, message.role, message.content),
    })),
  };
}

/** How a summary is sent: inside the system message, after the system prompt. */
export function summaryBlock(summary: string): string {
  return `<conversation-summary>\nThe earlier part of this conversation, summarised (those messages are not repeated below):\n${summary}\n</conversation-summary>`;
}

function assemble(
  system: string,
  summary: TurnSummary | null,
  messages: readonly ConversationMessage[],
  maxOutputTokens: number,
): PreparedPrompt {
  const block = summary === null ? null : summaryBlock(summary.content);
  return {
    system: block === null ? system : system === '' ? block : `${system}\n\n${block}`,
    messages: messages.map((message) => ({ role: message.role, content: message.content })),
    maxOutputTokens,
  };
}

function tooLarge(
  model: ResolvedModel,
  budget: ContextBudget,
  needed: number,
  exact: boolean,
): PromptTooLargeError {
  const available = promptBudget(budget);
  return new PromptTooLargeError(
    `the message is too long for model configuration '${model.config.displayName}': with the system prompt it needs ${exact ? '' : 'an estimated '}${needed} tokens, and the model leaves ${Math.max(0, available)} for the prompt (context_limit ${budget.contextLimit} less max_output_tokens ${budget.maxOutputTokens} for the answer); shorten it, or use a model configuration with a larger context_limit`,
  );
}

/** A memo key for a text: the tokenizer, the length and a hash (texts are long; keys stay short). */
function keyOf(choice: TokenizerChoice, text: string): string {
  return `${choice.encoding}:${choice.factor}:${text.length}:${fnv1a(text)}`;
}

/**
 * Two 32-bit FNV-1a hashes (different offsets) over UTF-16 code units: cheap next to tokenizing, and 64
 * bits keep texts of the same length apart.
 */
function fnv1a(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193) ^ (b >>> 15);
  }
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

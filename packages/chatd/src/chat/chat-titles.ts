import type { Logger } from 'pino';
import type { ChatConfigCache } from '../config/chat-config-cache.js';
import type { ChatRow, JsonObject } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { runTextCall, type TurnOptions } from '../llm/index.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { ChatEventHub } from './chat-events.js';
import { providerConnectionOf, resolveChatModel } from './model-resolution.js';

/** The longest generated title, in characters (the column allows 200; lists show about this much). */
export const MAX_GENERATED_TITLE_LENGTH = 80;
/** The most of the first message the title model reads. */
const TITLE_SOURCE_CHARS = 2_000;
/** A title is a few words: a small output budget bounds the cost of a model that rambles. */
const TITLE_MAX_OUTPUT_TOKENS = 32;

/** What the title model is told; the first message follows as the user message. */
export const TITLE_INSTRUCTION =
  'Write a title for the conversation that starts with the next message: at most six words, in the ' +
  "message's language, without quotes and without a final period. Answer with the title only.";

/** Whether a provider request is a title request (its system prompt is {@link TITLE_INSTRUCTION}). */
export function isTitleRequest(messages: readonly unknown[]): boolean {
  const first = messages[0] as { role?: unknown; content?: unknown } | undefined;
  return first?.role === 'system' && first.content === TITLE_INSTRUCTION;
}

/**
 * Turns what a model answered into a title: the first line, without surrounding quotes, a `Title:`
 * prefix, Markdown emphasis or a final period; whitespace collapsed; at most
 * {@link MAX_GENERATED_TITLE_LENGTH} characters (cut at a word). Empty when nothing usable is left.
 */
export function cleanTitle(raw: string): string {
  let title = raw.trim().split('\n', 1)[0]!.trim();
  title = title.replace(/^(?:#+\s*)?(?:title\s*:\s*)/i, '');
  title = title.replace(/^[*_`]+|[*_`]+$/g, '');
  for (let i = 0; i < 3; i++) title = title.replace(/^["'“”‘’«»„`]+|["'“”‘’«»„`]+$/g, '').trim();
  title = title
    .replace(/\s+/g, ' ')
    .replace(/[.。]+$/, '')
    .trim();
  const chars = [...title];
  if (chars.length <= MAX_GENERATED_TITLE_LENGTH) return title;
  const cut = chars.slice(0, MAX_GENERATED_TITLE_LENGTH - 1).join('');
  const atWord = cut.replace(/\s+\S*$/, '');
  return `${atWord.length > MAX_GENERATED_TITLE_LENGTH / 2 ? atWord : cut}…`;
}

/**
 * A chat's title, generated while the turn that answers its first message runs (a second provider call,
 * beside the answer), so that the turn's end usually writes it in the same statement (`completeChatTurn`)
 * and no statement of its own is needed. A title still generating when the turn ends is written after it
 * (`saveGeneratedTitle`); a turn that does not answer (an error, an interrupt) discards it, and the next
 * turn that answers the first message tries again.
 *
 * One generation per chat without a claim of its own: only the turn holding the chat's claim starts one,
 * and only for a chat whose history is its first message. Titles are written only while `title_state` is
 * still `pending`, so a rename by the owner meanwhile (`user`) wins. A failure leaves the first message's
 * start as the title (state `generated`: it is not tried again).
 */
export class TurnTitle {
  /** The title once generated; null when generation failed (the provisional title stays). */
  readonly settled: Promise<string | null>;
  #result: string | null | undefined;
  readonly #abort: AbortController;

  constructor(
    generate: (signal: AbortSignal) => Promise<string>,
    stopped: AbortSignal,
    onError: (error: unknown) => void,
  ) {
    this.#abort = new AbortController();
    const signal = AbortSignal.any([this.#abort.signal, stopped]);
    this.settled = generate(signal).then(
      (title) => {
        this.#result = title === '' ? null : title;
        return this.#result;
      },
      (error: unknown) => {
        // Stopped (its turn did not answer, or the server is stopping): not a failure, nothing to write.
        if (signal.aborted) return null;
        onError(error);
        this.#result = null;
        return null;
      },
    );
  }

  /** The title when ready: a string, null when generation failed; undefined while generating (or stopped). */
  get ready(): string | null | undefined {
    return this.#result;
  }

  /** Stops the generation (its turn did not answer): nothing is written. */
  cancel(): void {
    this.#abort.abort();
  }
}

/** Starts the titles of chats during their first turn, and writes those that outlast their turn. */
export class TitleGenerator {
  readonly #deps: TitleGeneratorDependencies;
  readonly #turnOptions: TurnOptions;
  readonly #running = new Set<Promise<unknown>>();
  readonly #abort = new AbortController();

  constructor(deps: TitleGeneratorDependencies, turnOptions: TurnOptions = {}) {
    this.#deps = deps;
    this.#turnOptions = turnOptions;
  }

  /**
   * Starts the title of `chat` beside the turn that answers `firstMessage`, when the title is still the
   * provisional one; undefined otherwise (or once stopping).
   */
  startDuringTurn(chat: ChatRow, firstMessage: string): TurnTitle | undefined {
    if (chat.titleState !== 'pending' || this.#abort.signal.aborted) return undefined;
    const title = new TurnTitle(
      (signal) => this.#generate(chat, firstMessage, signal),
      this.#abort.signal,
      (error) => this.#deps.logger.warn({ err: error, chatId: chat.id }, 'could not generate a chat title'),
    );
    this.#track(title.settled);
    return title;
  }

  /**
   * Writes a title that was still generating when its turn wrote its answer, once it is ready (one
   * statement), and announces it. In the background: nothing waits for it.
   */
  saveWhenReady(chatId: string, title: TurnTitle): void {
    const { store, events, logger } = this.#deps;
    const write = title.settled.then(async (generated) => {
      if (title.ready === undefined) return; // stopped before it was ready
      const written = await store.saveGeneratedTitle(chatId, generated);
      if (written && generated !== null) await events.publish(chatId, [{ type: 'title', title: generated }]);
    });
    this.#track(
      write.catch((error: unknown) => logger.warn({ err: error, chatId }, 'could not save a chat title')),
    );
  }

  /** Cancels titles being generated and waits for them (and their writes) to settle (server shutdown). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled([...this.#running]);
  }

  #track(task: Promise<unknown>): void {
    this.#running.add(task);
    void task.finally(() => this.#running.delete(task));
  }

  async #generate(chat: ChatRow, firstMessage: string, signal: AbortSignal): Promise<string> {
    const { configCache, secretBox } = this.#deps;
    const model = await resolveChatModel(configCache, chat);
    // The builtin models answer by rule (echo, inspect), not by reading: the message's start is its title.
    if (model.provider.provider === 'builtin') return cleanTitle(firstMessage);
    // One non-streamed call, not retried: a title is a few words used whole, and a chat does without.
    const result = await runTextCall(
      {
        provider: providerConnectionOf(model.provider, secretBox),
        model: model.config.model,
        options: { ...(model.config.options as JsonObject), max_output_tokens: TITLE_MAX_OUTPUT_TOKENS },
        system: TITLE_INSTRUCTION,
        messages: [{ role: 'user', content: firstMessage.slice(0, TITLE_SOURCE_CHARS) }],
        signal,
      },
      { timeoutMs: this.#turnOptions.idleTimeoutMs },
    );
    return cleanTitle(result.text);
  }
}

/** What a {@link TitleGenerator} is built on. */
export interface TitleGeneratorDependencies {
  readonly store: Store;
  readonly configCache: ChatConfigCache;
  readonly secretBox: SecretBox;
  readonly events: ChatEventHub;
  readonly logger: Logger;
}

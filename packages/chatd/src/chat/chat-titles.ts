import type { Logger } from 'pino';
import type { ChatConfigCache } from '../config/chat-config-cache.js';
import type { ChatRow, JsonObject } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { runChatTurn, type TurnOptions } from '../llm/index.js';
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
 * Generates a chat's title once, after its first answer, off the turn's path: the turn has ended and
 * been announced before the title model is called, so no turn waits for it.
 *
 * Exactly one replica generates a chat's title: `claimChatTitleGeneration` moves `title_state` from
 * `pending` to `generating` (and reads the first message) in one statement, and the title is written only
 * while the state is still `generating`, so a rename by the owner meanwhile (`user`) wins. A failure
 * leaves the first message's start as the title (state `generated`: it is not tried again).
 */
export class TitleGenerator {
  readonly #deps: TitleGeneratorDependencies;
  readonly #turnOptions: TurnOptions;
  readonly #running = new Set<Promise<void>>();
  /** Chats whose title this replica is generating: a next turn claimed meanwhile still reads `pending`. */
  readonly #inFlight = new Set<string>();
  readonly #abort = new AbortController();

  constructor(deps: TitleGeneratorDependencies, turnOptions: TurnOptions = {}) {
    this.#deps = deps;
    this.#turnOptions = turnOptions;
  }

  /** Starts the title of `chat` in the background when it still has its provisional one. */
  afterFirstAnswer(chat: ChatRow): void {
    if (chat.titleState !== 'pending' || this.#abort.signal.aborted || this.#inFlight.has(chat.id)) return;
    this.#inFlight.add(chat.id);
    const task = this.#generate(chat).catch((error: unknown) =>
      this.#deps.logger.warn({ err: error, chatId: chat.id }, 'could not generate a chat title'),
    );
    this.#running.add(task);
    void task.finally(() => {
      this.#running.delete(task);
      this.#inFlight.delete(chat.id);
    });
  }

  /** Cancels titles being generated and waits for them to settle (server shutdown). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled([...this.#running]);
  }

  async #generate(chat: ChatRow): Promise<void> {
    const { store, configCache, secretBox, events } = this.#deps;
    const claimed = await store.claimChatTitleGeneration(chat.id);
    if (!claimed) return;
    let title = '';
    try {
      const model = await resolveChatModel(configCache, chat);
      // The builtin models answer by rule (echo, inspect), not by reading: the message's start is its title.
      if (model.provider.provider === 'builtin') {
        title = cleanTitle(claimed.firstMessage);
        return;
      }
      const result = await runChatTurn(
        {
          provider: providerConnectionOf(model.provider, secretBox),
          model: model.config.model,
          options: { ...(model.config.options as JsonObject), max_output_tokens: TITLE_MAX_OUTPUT_TOKENS },
          system: TITLE_INSTRUCTION,
          messages: [{ role: 'user', content: claimed.firstMessage.slice(0, TITLE_SOURCE_CHARS) }],
          signal: this.#abort.signal,
          onTextDelta: () => {},
        },
        { ...this.#turnOptions, maxRetries: 0 },
      );
      title = cleanTitle(result.text);
    } finally {
      // Written (or given up) whatever happened: a chat never stays `generating` because of a failure here.
      const written = await store.finishChatTitleGeneration(chat.id, title === '' ? null : title);
      if (written && title !== '') await events.publish(chat.id, [{ type: 'title', title }]);
    }
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

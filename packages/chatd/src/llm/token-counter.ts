import type { ProviderKind } from '../db/rows.js';

/**
 * Token counts of prompts, per provider and model.
 *
 * OpenAI models are counted with their real tokenizer (`gpt-tokenizer`, a pure-JS port of tiktoken):
 * `o200k_base` for the GPT-4o, GPT-4.1, GPT-4.5, GPT-5, o-series and gpt-oss families, `cl100k_base` for
 * GPT-4 and GPT-3.5, on the `openai` provider and on `openai-compat` servers that serve a model by those
 * names (a proxy, `openai/gpt-4o`). Every other model (Anthropic's, other models behind
 * `openai-compat`, an OpenAI model this table does not know) is estimated: its `cl100k_base` count times
 * {@link ESTIMATE_FACTOR}, rounded up, since other tokenizers cut most text into more tokens than
 * cl100k_base does. The `builtin` models have no tokenizer of their own and are defined to count as
 * `o200k_base` (exactly: tests compare what the `inspect` model reports).
 *
 * Chat messages cost what OpenAI documents for its chat format ("How to count tokens with tiktoken"):
 * 3 tokens per message plus its role and content, and 3 more priming the reply.
 */

export const TOKEN_ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type TokenEncoding = (typeof TOKEN_ENCODINGS)[number];

/** Estimated counts are the `cl100k_base` count times this (rounded up). */
export const ESTIMATE_FACTOR = 1.25;
/** Tokens every chat message adds besides its role and content (`<|start|>`, `<|message|>`, `<|end|>`). */
export const TOKENS_PER_MESSAGE = 3;
/** Tokens that prime the reply (`<|start|>assistant<|message|>`), once per prompt. */
export const REPLY_PRIMING_TOKENS = 3;

/** How a model's prompts are counted. */
export interface TokenizerChoice {
  readonly encoding: TokenEncoding;
  /** The model's own tokenizer (true), or an estimate (false). */
  readonly exact: boolean;
  /** Counts are multiplied by this and rounded up: 1 when exact, {@link ESTIMATE_FACTOR} when estimated. */
  readonly factor: number;
}

const O200K_MODELS =
  /^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o[134](-|$)|gpt-oss|codex-mini|gpt-realtime|gpt-audio|computer-use)/;
const CL100K_MODELS = /^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002)/;

/**
 * The tiktoken encoding of an OpenAI model name, or undefined when it is not one this table knows. A
 * router prefix (`openai/gpt-4o`) and a fine-tune prefix (`ft:gpt-4o-mini:org::id`) are ignored.
 */
export function encodingForOpenAiModel(model: string): TokenEncoding | undefined {
  let name = model.trim().toLowerCase();
  name = name.slice(name.lastIndexOf('/') + 1);
  if (name.startsWith('ft:')) name = name.slice(3);
  if (O200K_MODELS.test(name)) return 'o200k_base';
  if (CL100K_MODELS.test(name)) return 'cl100k_base';
  return undefined;
}

/** How prompts of `model` on a provider of `kind` are counted (see the module comment). */
export function tokenizerFor(kind: ProviderKind, model: string): TokenizerChoice {
  if (kind === 'builtin') return EXACT_O200K;
  if (kind === 'openai' || kind === 'openai-compat') {
    const encoding = encodingForOpenAiModel(model);
    if (encoding === 'o200k_base') return EXACT_O200K;
    if (encoding === 'cl100k_base') return EXACT_CL100K;
  }
  return ESTIMATED;
}

const EXACT_O200K: TokenizerChoice = Object.freeze({ encoding: 'o200k_base', exact: true, factor: 1 });
const EXACT_CL100K: TokenizerChoice = Object.freeze({ encoding: 'cl100k_base', exact: true, factor: 1 });
const ESTIMATED: TokenizerChoice = Object.freeze({
  encoding: 'cl100k_base',
  exact: false,
  factor: ESTIMATE_FACTOR,
});

/** Counts tokens for one {@link TokenizerChoice}; every method is synchronous once loaded. */
export interface TokenCounter {
  readonly choice: TokenizerChoice;
  /** Tokens of a text. */
  countText(text: string): number;
  /** Tokens one chat message adds to a prompt: {@link TOKENS_PER_MESSAGE}, its role and its content. */
  countMessage(role: string, content: string): number;
  /** Tokens that prime the reply, once per prompt. */
  readonly primingTokens: number;
}

/**
 * An upper bound of {@link TokenCounter.countMessage} that needs no tokenizer: a byte-level BPE token is
 * at least one UTF-8 byte, so a text has at most as many tokens as bytes. Lets a turn whose history
 * obviously fits skip the tokenizer altogether.
 */
export function messageTokenBound(choice: TokenizerChoice, role: string, content: string): number {
  const bytes = TOKENS_PER_MESSAGE + Buffer.byteLength(role, 'utf8') + Buffer.byteLength(content, 'utf8');
  return Math.ceil(bytes * choice.factor);
}

/** {@link TokenCounter.primingTokens} of a choice, without loading its tokenizer. */
export function primingTokens(choice: TokenizerChoice): number {
  return Math.ceil(REPLY_PRIMING_TOKENS * choice.factor);
}

type CountTokens = (text: string) => number;

/** Loaded encodings (each loads once, on first use: about 150-250 ms and 20-40 MB). */
const encoders = new Map<TokenEncoding, Promise<CountTokens>>();

/** The tokenizer of a choice, loaded on first use (shared by every caller of the process). */
export async function loadTokenCounter(choice: TokenizerChoice): Promise<TokenCounter> {
  const count = await loadEncoding(choice.encoding);
  const { factor } = choice;
  const scaled = (tokens: number) => (factor === 1 ? tokens : Math.ceil(tokens * factor));
  return {
    choice,
    countText: (text) => scaled(countLongTextSafely(count, text)),
    countMessage: (role, content) =>
      scaled(TOKENS_PER_MESSAGE + countLongTextSafely(count, role) + countLongTextSafely(count, content)),
    primingTokens: primingTokens(choice),
  };
}

function loadEncoding(encoding: TokenEncoding): Promise<CountTokens> {
  let loading = encoders.get(encoding);
  if (!loading) {
    // Special tokens in user text (`<|endoftext|>`) are counted as the text they are: providers treat
    // them as text too.
    const options = { disallowedSpecial: new Set<string>() };
    loading = (
      encoding === 'o200k_base'
        ? import('gpt-tokenizer/encoding/o200k_base')
        : import('gpt-tokenizer/encoding/cl100k_base')
    ).then((module) => (text: string) => module.countTokens(text, options));
    // A failed load is not cached: the next call tries again.
    loading.catch(() => encoders.delete(encoding));
    encoders.set(encoding, loading);
  }
  return loading;
}

/** Runs of this many characters without (or of only) whitespace are counted in slices. */
const LONG_RUN = 256;
const LONG_RUNS = new RegExp(`\\S{${LONG_RUN},}|\\s{${LONG_RUN},}`, 'g');
const SLICE = 128;

/**
 * `count(text)`, but long runs (a word, a CJK sentence or whitespace of hundreds of characters: one
 * pre-token each) are counted in slices of {@link SLICE} characters. BPE merges within a pre-token take
 * time quadratic in its length: 100,000 'a's take 11 s in one piece and milliseconds in slices, so a
 * user's message cannot stall a replica. A slice boundary can only lose merges: the count may come out a
 * few tokens high, never low.
 */
export function countLongTextSafely(count: CountTokens, text: string): number {
  if (text.length < LONG_RUN) return count(text);
  let total = 0;
  let start = 0;
  LONG_RUNS.lastIndex = 0;
  for (const match of text.matchAll(LONG_RUNS)) {
    if (match.index > start) total += count(text.slice(start, match.index));
    const run = match[0];
    for (let at = 0; at < run.length; ) {
      let end = Math.min(at + SLICE, run.length);
      // Keep a surrogate pair in one slice.
      if (end < run.length && isLowSurrogate(run.charCodeAt(end))) end += 1;
      total += count(run.slice(at, end));
      at = end;
    }
    start = match.index + run.length;
  }
  if (start < text.length) total += count(start === 0 ? text : text.slice(start));
  return total;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startChatdServer } from '../cli/chatd-server.js';
import { SUMMARY_INSTRUCTION } from '../llm/summary-prompt.js';
import { loadTokenCounter, type TokenCounter, tokenizerFor } from '../llm/token-counter.js';
import { ChatdClient } from './chatd-client.js';
import { startLlmMockServer } from './llm-mock-server.js';
import { openScratchDatabase } from './scratch-database.js';

/** Options of {@link runContextWindowBench}. */
export interface ContextWindowBenchOptions {
  /** Turns of the chat. */
  readonly turns: number;
  /** The context_limit of the compacting model config. */
  readonly contextLimit: number;
  /** Tokens of each user message (about). */
  readonly messageTokens: number;
  /** Words (about a token each) of each answer of the mock LLM. */
  readonly responseTokens: number;
  /** The table shows every n-th turn (and the first and the last). */
  readonly every: number;
  readonly postgresUrl?: string | undefined;
}

export const CONTEXT_WINDOW_BENCH_DEFAULTS = Object.freeze({
  turns: 50,
  contextLimit: 8_192,
  messageTokens: 300,
  responseTokens: 100,
  every: 5,
});

/** One turn of one run. */
export interface BenchTurn {
  /** Tokens of the answer call's prompt, counted as chatd counts them. */
  readonly promptTokens: number;
  /** Messages in that prompt (system message included). */
  readonly messages: number;
  /** Tokens of the prompts of the summary calls this turn made (0: none). */
  readonly summaryTokens: number;
}

/** What {@link runContextWindowBench} measured. */
export interface ContextWindowBenchReport {
  readonly options: ContextWindowBenchOptions;
  readonly model: string;
  /** Without compaction (a context large enough never to compact: the whole history every turn). */
  readonly whole: readonly BenchTurn[];
  /** With compaction, at `contextLimit` and the default threshold (70 %). */
  readonly compacted: readonly BenchTurn[];
  /** The prompt budget of the compacting config (context_limit less max_output_tokens). */
  readonly promptBudget: number;
}

/** The model name chatd counts exactly (o200k_base) on an OpenAI-compatible server. */
const MODEL = 'gpt-4o-mini';
/** Plenty: 50 turns of 400 tokens never reach 70 % of it. */
const UNBOUNDED_CONTEXT = 2_000_000;

/**
 * Prompt tokens per turn over one long chat, with and without compaction: a scratch database, one chatd
 * in this process and the mock LLM, an OpenAI-compatible model chatd counts exactly. Every prompt the
 * mock receives is counted here with the same tokenizer.
 */
export async function runContextWindowBench(
  options: ContextWindowBenchOptions,
): Promise<ContextWindowBenchReport> {
  const counter = await loadTokenCounter(tokenizerFor('openai-compat', MODEL));
  const database = await openScratchDatabase({ postgresUrl: options.postgresUrl });
  const cacheDir = await mkdtemp(path.join(tmpdir(), 'chatd-context-bench-'));
  const llm = await startLlmMockServer({
    port: 0,
    responseTokens: options.responseTokens,
    recordLimit: 1_000,
    bodyLimit: 64 * 1024 * 1024,
  });
  try {
    const server = await startChatdServer({
      httpAddress: { host: '127.0.0.1', port: 0 },
      postgresUrl: database.url,
      cacheDir,
      logger: pino({ level: 'silent' }),
      secretsKey: randomBytes(32),
      api: { newChatsPerMinute: 0, messagesPerMinute: 0, maxStreamsPerUser: 100 },
    });
    try {
      const admin = new ChatdClient(server.url, server.firstAdmin!.token);
      const provider = await admin.request<{ id: string }>('POST', '/api/v1/chat/providers', {
        provider: 'openai-compat',
        display_name: 'Mock LLM',
        base_url: llm.url,
      });
      const config = (contextLimit: number, threshold: number) =>
        admin.request<{ id: string; max_output_tokens: number }>('POST', '/api/v1/chat/model-configs', {
          provider_id: provider.id,
          model: MODEL,
          display_name: `${MODEL} (${contextLimit})`,
          context_limit: contextLimit,
          compression_threshold: threshold,
        });
      const whole = await config(UNBOUNDED_CONTEXT, 100);
      const compacting = await config(options.contextLimit, 70);
      const messages = userMessages(counter, options.turns, options.messageTokens);
      const run = async (configId: string) => {
        const turns: BenchTurn[] = [];
        let chatId: string | undefined;
        for (const [index, content] of messages.entries()) {
          const seen = llm.requests;
          if (chatId === undefined) chatId = (await admin.createChat(content, configId)).id;
          else await admin.sendMessage(chatId, content);
          await settled(admin, chatId, 2 * (index + 1));
          const requests = llm.recentRequests.slice(-(llm.requests - seen));
          turns.push(measure(counter, requests));
        }
        return turns;
      };
      return {
        options,
        model: MODEL,
        whole: await run(whole.id),
        compacted: await run(compacting.id),
        promptBudget: options.contextLimit - compacting.max_output_tokens,
      };
    } finally {
      await server.close();
    }
  } finally {
    await llm.close();
    await database.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

interface MockMessage {
  role: string;
  content: unknown;
}

function measure(counter: TokenCounter, requests: readonly { body: unknown }[]): BenchTurn {
  let promptTokens = 0;
  let messages = 0;
  let summaryTokens = 0;
  for (const request of requests) {
    const sent = (request.body as { messages: MockMessage[] }).messages;
    let tokens = counter.primingTokens;
    for (const message of sent) tokens += counter.countMessage(message.role, textOf(message.content));
    if (sent[0]?.role === 'system' && textOf(sent[0].content) === SUMMARY_INSTRUCTION)
      summaryTokens += tokens;
    else {
      promptTokens = tokens;
      messages = sent.length;
    }
  }
  return { promptTokens, messages, summaryTokens };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => (part as { text?: string }).text ?? '').join('');
  return '';
}

/** Waits until the chat is idle with `count` messages. */
async function settled(client: ChatdClient, chatId: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const detail = await client.getChat(chatId);
    if (detail.chat.status === 'error') throw new Error(`the chat ended in error: ${detail.chat.last_error}`);
    if (detail.chat.status === 'waiting' && detail.messages.length >= count) return;
    if (Date.now() > deadline) throw new Error(`the turn of chat ${chatId} did not end within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const WORDS =
  'the of and to in is that for it as with was on be by this are from at or an have not which but all they were one can has more their will about if out so what up when there some into them than only time its other new also could like these two may first any use such over most even made after many'.split(
    ' ',
  );

/** Distinct, deterministic English-like messages of about `tokens` tokens each. */
function userMessages(counter: TokenCounter, turns: number, tokens: number): string[] {
  let seed = 12_345;
  const random = () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const messages: string[] = [];
  for (let turn = 1; turn <= turns; turn++) {
    const words = [`Question ${turn}:`];
    while (counter.countText(words.join(' ')) < tokens) {
      for (let i = 0; i < 10; i++) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
    }
    messages.push(`${words.join(' ')}?`);
  }
  return messages;
}

/** The report as the command prints it: a table of turns, then the totals. */
export function formatContextWindowBenchReport(report: ContextWindowBenchReport): string {
  const { options, whole, compacted } = report;
  const lines = [
    `${options.turns} turns of ~${options.messageTokens}-token questions and ~${options.responseTokens}-token answers; model ${report.model} (o200k_base); with compaction: context_limit ${options.contextLimit}, compression_threshold 70 %, prompt budget ${report.promptBudget}`,
    '',
    '| turn | prompt tokens, whole history | prompt tokens, compaction | messages sent | summary call tokens |',
    '| ---: | ---: | ---: | ---: | ---: |',
  ];
  for (let index = 0; index < options.turns; index++) {
    const turn = index + 1;
    const summarised = compacted[index]!.summaryTokens > 0;
    if (turn !== 1 && turn !== options.turns && turn % options.every !== 0 && !summarised) continue;
    const over = whole[index]!.promptTokens > report.promptBudget ? ' (too large)' : '';
    lines.push(
      `| ${turn} | ${fmt(whole[index]!.promptTokens)}${over} | ${fmt(compacted[index]!.promptTokens)} | ${compacted[index]!.messages} | ${summarised ? fmt(compacted[index]!.summaryTokens) : ''} |`,
    );
  }
  const sum = (turns: readonly BenchTurn[], key: keyof BenchTurn) =>
    turns.reduce((total, turn) => total + turn[key], 0);
  const max = (turns: readonly BenchTurn[]) => Math.max(...turns.map((turn) => turn.promptTokens));
  const summaries = compacted.filter((turn) => turn.summaryTokens > 0).length;
  const compactedTotal = sum(compacted, 'promptTokens') + sum(compacted, 'summaryTokens');
  lines.push(
    '',
    `too large: over the ${fmt(report.promptBudget)} tokens that context_limit ${options.contextLimit} leaves for the prompt: at that context_limit the whole history could not be sent`,
    '',
    '| run | prompt tokens, all turns | largest prompt | summary calls | total input tokens |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| whole history | ${fmt(sum(whole, 'promptTokens'))} | ${fmt(max(whole))} | 0 | ${fmt(sum(whole, 'promptTokens'))} |`,
    `| compaction | ${fmt(sum(compacted, 'promptTokens'))} | ${fmt(max(compacted))} | ${summaries} | ${fmt(compactedTotal)} |`,
  );
  return lines.join('\n');
}

function fmt(value: number): string {
  return value.toLocaleString('en-US');
}

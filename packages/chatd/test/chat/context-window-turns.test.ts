/**
 * The context window end to end (issue 12): real HTTP, a real PostgreSQL and a scripted OpenAI-compatible
 * provider that records every request, counted here with the same tokenizer chatd uses for the model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { createSql, type Sql } from '../../src/db/connection.js';
import { SUMMARY_INSTRUCTION } from '../../src/llm/summary-prompt.js';
import { loadTokenCounter, type TokenCounter, tokenizerFor } from '../../src/llm/token-counter.js';
import { ChatdClient, type MessageJson } from '../../src/scaletest/chatd-client.js';
import { eventually } from '../support/eventually.js';
import {
  type ScriptedLlm,
  type ScriptedReply,
  type ScriptedRequest,
  startScriptedLlm,
  textOf,
} from '../support/scripted-llm.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestServer } from '../support/test-server.js';

/** A model name chatd counts exactly (o200k_base), so the counts here are chatd's own. */
const MODEL = 'gpt-4o-mini';

let database: TestDatabase;
let server: ChatdServer;
let sql: Sql;
let llm: ScriptedLlm;
let admin: ChatdClient;
let member: ChatdClient;
let providerId: string;
let counter: TokenCounter;
/** Chats whose summary calls fail (to test the fallback), by a marker in their messages. */
const FAIL_SUMMARY = 'fail-summary-marker';
/** Chats whose summary calls take long (to interrupt them). */
const SLOW_SUMMARY = 'slow-summary-marker';

function isSummaryCall(request: ScriptedRequest): boolean {
  return (
    request.messages[0]?.role === 'system' && textOf(request.messages[0].content) === SUMMARY_INSTRUCTION
  );
}

function script(request: ScriptedRequest): ScriptedReply {
  if (isSummaryCall(request)) {
    if (request.lastUserContent.includes(FAIL_SUMMARY)) return { status: 400, message: 'no summaries today' };
    if (request.lastUserContent.includes(SLOW_SUMMARY)) {
      return { chunks: ['SUMMARY-OF-EARLIER ', 'slowly'], firstDelayMs: 5_000 };
    }
    return { chunks: ['SUMMARY-OF-EARLIER ', 'the user sent numbered long messages.'] };
  }
  const slow = /^slow/.test(request.lastUserContent);
  return {
    chunks: Array.from({ length: 20 }, (_, i) => `answer${i} `),
    ...(slow ? { firstDelayMs: 800, delayMs: 20 } : {}),
  };
}

beforeAll(async () => {
  llm = await startScriptedLlm(script);
  database = await createTestDatabase();
  sql = createSql(database.url, { maxConnections: 2 });
  server = await startTestServer(database.url, {
    worker: { turn: { idleTimeoutMs: 5_000, retryBaseDelayMs: 10, retryMaxDelayMs: 20 } },
  });
  admin = new ChatdClient(server.url, server.firstAdmin!.token);
  const provider = await admin.request<{ id: string }>('POST', '/api/v1/chat/providers', {
    provider: 'openai-compat',
    display_name: 'Scripted',
    base_url: llm.url,
    api_key: 'sk-scripted',
  });
  providerId = provider.id;
  const created = await admin.request<{ token: string }>('POST', '/api/v1/users', {
    username: 'window',
    role: 'member',
  });
  member = new ChatdClient(server.url, created.token);
  counter = await loadTokenCounter(tokenizerFor('openai-compat', MODEL));
});

afterAll(async () => {
  await server?.close();
  await sql?.end({ timeout: 5 });
  await database?.drop();
  await llm?.close();
});

async function modelConfig(settings: {
  context_limit: number;
  max_output_tokens?: number;
  compression_threshold?: number;
  model?: string;
  provider_id?: string;
}): Promise<{ id: string; max_output_tokens: number }> {
  return admin.request('POST', '/api/v1/chat/model-configs', {
    provider_id: providerId,
    model: MODEL,
    display_name: `window ${Math.random().toString(36).slice(2)}`,
    ...settings,
  });
}

/** A long, distinct user message of about `words` x 3 tokens. */
function longMessage(n: number, words = 100, prefix = ''): string {
  return `${prefix}message ${n}: ${Array.from({ length: words }, (_, i) => `w${n}x${i}`).join(' ')}`;
}

/** Tokens of a request as chatd counts it: priming, then each message's overhead, role and text. */
function tokensOf(request: ScriptedRequest): number {
  let tokens = counter.primingTokens;
  for (const message of request.messages)
    tokens += counter.countMessage(message.role, textOf(message.content));
  return tokens;
}

/** Waits until the chat is idle with at least `count` messages; returns them. */
async function settled(chatId: string, count: number): Promise<{ status: string; messages: MessageJson[] }> {
  let detail = await member.getChat(chatId);
  await eventually(
    async () => {
      detail = await member.getChat(chatId);
      return (
        (detail.chat.status === 'waiting' || detail.chat.status === 'error') &&
        detail.messages.length >= count
      );
    },
    `chat ${chatId} has ${count} messages and is idle`,
    15_000,
  );
  return { status: detail.chat.status, messages: detail.messages };
}

/** Runs `turns` turns of long messages; returns the chat id. */
async function longChat(configId: string, turns: number, prefix = ''): Promise<string> {
  const chat = await member.createChat(longMessage(1, 100, prefix), configId);
  await settled(chat.id, 2);
  for (let n = 2; n <= turns; n++) {
    await member.sendMessage(chat.id, longMessage(n, 100, prefix));
    const { status } = await settled(chat.id, 2 * n);
    expect(status).toBe('waiting');
  }
  return chat.id;
}

describe('the context window', () => {
  it('keeps a long chat answering within a small context, compacting past the threshold', async () => {
    const config = await modelConfig({ context_limit: 2_000, max_output_tokens: 200 });
    const before = llm.requests.length;
    const summarisedBefore = server.chatMetrics.compactions('summarised');
    const chatId = await longChat(config.id, 12);

    const requests = llm.requests.slice(before);
    const answers = requests.filter((request) => !isSummaryCall(request) && !request.isTitle);
    expect(answers).toHaveLength(12);
    for (const [index, request] of answers.entries()) {
      // What was sent fits the context with the answer reserve, and the reserve is the output limit.
      expect(tokensOf(request)).toBeLessThanOrEqual(2_000 - 200);
      expect(request.body.max_tokens).toBe(200);
      // The newest message is always there, last.
      expect(request.lastUserContent).toBe(longMessage(index + 1));
      expect(request.messages.at(-1)?.role).toBe('user');
    }
    // Without compaction the 12th prompt would hold all 23 messages (about 4,000 tokens).
    const summaries = requests.filter(isSummaryCall);
    expect(summaries.length).toBeGreaterThan(0);
    const firstSummaryAt = requests.indexOf(summaries[0]!);
    const afterSummary = requests
      .slice(firstSummaryAt + 1)
      .filter((request) => !isSummaryCall(request) && !request.isTitle);
    expect(afterSummary.length).toBeGreaterThan(0);
    for (const request of afterSummary) {
      // The summary stands for the old messages: it is in the system message, message 1 is not sent.
      expect(textOf(request.messages[0]?.content)).toContain('SUMMARY-OF-EARLIER');
      expect(request.messages.some((message) => textOf(message.content) === longMessage(1))).toBe(false);
    }
    // A summary call fits the context too, and its transcript holds the oldest message.
    for (const summary of summaries) {
      expect(tokensOf(summary)).toBeLessThanOrEqual(2_000);
      expect(summary.body.max_tokens).toBeLessThanOrEqual(200);
    }
    expect(summaries[0]!.lastUserContent).toContain(longMessage(1));

    // The summary is stored, with the usage of its calls; the user still sees every message.
    const [row] = await sql<
      { throughMessageId: number; inputTokens: number; outputTokens: number; compactions: number }[]
    >`SELECT through_message_id, input_tokens, output_tokens, compactions FROM chat_summaries WHERE chat_id = ${chatId}`;
    expect(row).toBeDefined();
    expect(row!.compactions).toBe(summaries.length);
    // The scripted provider reports 10 prompt tokens and one completion token per chunk.
    expect(row!.inputTokens).toBe(10 * summaries.length);
    expect(row!.outputTokens).toBe(2 * summaries.length);
    expect(server.chatMetrics.compactions('summarised') - summarisedBefore).toBe(summaries.length);
    // The chat's usage is its answers' and its summary calls' tokens.
    const [usage] = await sql<[{ chatInput: number; answersInput: number }]>`
      SELECT c.input_tokens AS chat_input,
             (SELECT coalesce(sum(input_tokens), 0) FROM chat_messages WHERE chat_id = c.id)::bigint AS answers_input
      FROM chats c WHERE c.id = ${chatId}`;
    expect(usage.chatInput).toBe(usage.answersInput + row!.inputTokens);
    const { messages } = await member.getChat(chatId);
    expect(messages).toHaveLength(24);
    expect(messages[0]!.content).toBe(longMessage(1));
    expect(messages.some((message) => message.id === row!.throughMessageId)).toBe(true);
  });

  it('falls back to leaving the oldest messages out when the summary call fails', async () => {
    const config = await modelConfig({ context_limit: 2_000, max_output_tokens: 200 });
    const before = llm.requests.length;
    const failedBefore = server.chatMetrics.compactions('failed');
    const chatId = await longChat(config.id, 10, `${FAIL_SUMMARY} `);
    const requests = llm.requests.slice(before);
    const summaries = requests.filter(isSummaryCall);
    expect(summaries.length).toBeGreaterThan(0);
    const answers = requests.filter((request) => !isSummaryCall(request) && !request.isTitle);
    expect(answers).toHaveLength(10);
    expect(server.chatMetrics.compactions('failed') - failedBefore).toBe(summaries.length);
    for (const [index, request] of answers.entries()) {
      expect(tokensOf(request)).toBeLessThanOrEqual(1_800);
      expect(request.lastUserContent).toBe(longMessage(index + 1, 100, `${FAIL_SUMMARY} `));
    }
    // The last prompt left the first messages out (dropped, oldest first) and has no summary.
    const last = answers.at(-1)!;
    expect(last.messages.some((m) => textOf(m.content) === longMessage(1, 100, `${FAIL_SUMMARY} `))).toBe(
      false,
    );
    expect(last.messages.some((m) => textOf(m.content).includes('SUMMARY-OF-EARLIER'))).toBe(false);
    expect(last.messages.length).toBeGreaterThan(2);
    // The kept part starts with a user message (there is no system prompt here, and no summary).
    expect(last.messages[0]?.role).toBe('user');
    expect(await sql`SELECT 1 FROM chat_summaries WHERE chat_id = ${chatId}`).toHaveLength(0);
  });

  it('ends a turn interrupted during its summary call as interrupted, with an empty answer', async () => {
    const config = await modelConfig({ context_limit: 2_000, max_output_tokens: 200 });
    const prefix = `${SLOW_SUMMARY} `;
    const chat = await member.createChat(longMessage(1, 100, prefix), config.id);
    await settled(chat.id, 2);
    let n = 1;
    const summaryCalls = () =>
      llm.requests.filter((r) => isSummaryCall(r) && r.lastUserContent.includes(prefix));
    while (summaryCalls().length === 0) {
      n += 1;
      expect(n).toBeLessThan(10);
      await member.sendMessage(chat.id, longMessage(n, 100, prefix));
      await eventually(
        async () => summaryCalls().length > 0 || (await member.getChat(chat.id)).messages.length >= 2 * n,
        'the turn ends or summarises',
        10_000,
      );
    }
    await member.request('POST', `/api/v1/chats/${chat.id}/interrupt`);
    const { status, messages } = await settled(chat.id, 2 * n);
    expect(status).toBe('waiting');
    expect(messages.at(-1)).toMatchObject({ role: 'assistant', finish_reason: 'interrupted', content: '' });
    expect(llm.requestsFor(longMessage(n, 100, prefix))).toHaveLength(0);
    expect(summaryCalls()[0]!.closedEarlyAt).toBeDefined();
  });

  it('ends a turn whose newest message cannot fit in error, without calling the provider for it', async () => {
    // The case: a context_limit of 10 received a 5,000-character message whole.
    const config = await modelConfig({ context_limit: 10 });
    expect(config.max_output_tokens).toBe(2);
    const content = `too long ${'x'.repeat(5_000)}`;
    const chat = await member.createChat(content, config.id);
    const { status, messages } = await settled(chat.id, 2);
    expect(status).toBe('error');
    const detail = await member.getChat(chat.id);
    expect(detail.chat.last_error).toMatch(
      /^the message is too long for model configuration 'window \w+': with the system prompt it needs \d+ tokens, and the model leaves 8 for the prompt \(context_limit 10 less max_output_tokens 2 for the answer\)/,
    );
    expect(messages.at(-1)).toMatchObject({ role: 'assistant', finish_reason: 'error', content: '' });
    expect(llm.requestsFor(content)).toHaveLength(0);
    // The chat stays usable: a message that fits is answered.
    await member.sendMessage(chat.id, 'ok');
    expect((await settled(chat.id, 4)).status).toBe('waiting');
  });

  it('compacts an idle chat on request: the summary stands for every message so far', async () => {
    const config = await modelConfig({ context_limit: 100_000 });
    const chatId = await longChat(config.id, 3);
    const before = llm.requests.length;
    await member.request('POST', `/api/v1/chats/${chatId}/compact`);
    await eventually(
      async () => (await sql`SELECT 1 FROM chat_summaries WHERE chat_id = ${chatId}`).length > 0,
      'the summary is stored',
      10_000,
    );
    const { status, messages } = await settled(chatId, 6);
    expect(status).toBe('waiting');
    expect(messages).toHaveLength(6); // the compaction answered nothing
    const requests = llm.requests.slice(before);
    expect(requests).toHaveLength(1);
    expect(isSummaryCall(requests[0]!)).toBe(true);
    const [row] = await sql<{ throughMessageId: number }[]>`
      SELECT through_message_id FROM chat_summaries WHERE chat_id = ${chatId}`;
    expect(row!.throughMessageId).toBe(messages.at(-1)!.id);

    await member.sendMessage(chatId, 'after the compaction');
    await settled(chatId, 8);
    const next = llm.requests.at(-1)!;
    expect(next.messages.map((message) => message.role)).toEqual(['system', 'user']);
    expect(textOf(next.messages[0]!.content)).toContain('SUMMARY-OF-EARLIER');
  });

  it('compacts after a running turn, never during it', async () => {
    const config = await modelConfig({ context_limit: 100_000 });
    const chatId = await longChat(config.id, 2);
    const before = llm.requests.length;
    await member.sendMessage(chatId, 'slow question');
    await eventually(async () => (await member.getChat(chatId)).chat.status === 'running', 'the turn runs');
    await member.request('POST', `/api/v1/chats/${chatId}/compact`);
    await eventually(
      async () => (await sql`SELECT 1 FROM chat_summaries WHERE chat_id = ${chatId}`).length > 0,
      'the summary is stored',
      10_000,
    );
    const { status, messages } = await settled(chatId, 6);
    expect(status).toBe('waiting');
    expect(messages.at(-1)).toMatchObject({ role: 'assistant', finish_reason: 'stop' });
    const requests = llm.requests.slice(before);
    expect(requests.map(isSummaryCall)).toEqual([false, true]);
    // The summary call started after the answer had been sent to its end, and covers it.
    expect(requests[1]!.receivedAt).toBeGreaterThanOrEqual(requests[0]!.finishedAt!);
    expect(requests[1]!.lastUserContent).toContain('slow question');
    const [row] = await sql<{ throughMessageId: number }[]>`
      SELECT through_message_id FROM chat_summaries WHERE chat_id = ${chatId}`;
    expect(row!.throughMessageId).toBe(messages.at(-1)!.id);
    expect((await sql`SELECT compact_requested FROM chats WHERE id = ${chatId}`)[0]).toEqual({
      compactRequested: false,
    });
  });

  it('sends the builtin inspect model a prompt that fits, and it reports it', async () => {
    const provider = await admin.request<{ id: string }>('POST', '/api/v1/chat/providers', {
      provider: 'builtin',
      display_name: 'Builtin',
    });
    const config = await modelConfig({
      provider_id: provider.id,
      model: 'inspect',
      context_limit: 1_500,
      max_output_tokens: 300,
    });
    const chat = await member.createChat(longMessage(1, 60), config.id);
    await settled(chat.id, 2);
    for (let n = 2; n <= 10; n++) {
      await member.sendMessage(chat.id, longMessage(n, 60));
      const { messages } = await settled(chat.id, 2 * n);
      const report = JSON.parse(messages.at(-1)!.content) as {
        prompt_tokens: number;
        system: string | null;
        options: { maxOutputTokens?: number };
        messages: { role: string; length: number }[];
      };
      expect(report.prompt_tokens).toBeLessThanOrEqual(1_500 - 300);
      expect(report.options.maxOutputTokens).toBe(300);
      expect(report.messages.at(-1)).toEqual({ role: 'user', length: longMessage(n, 60).length });
    }
    // The builtin summary is deterministic: the first words of each message it covers.
    const [row] = await sql<
      { content: string }[]
    >`SELECT content FROM chat_summaries WHERE chat_id = ${chat.id}`;
    expect(row!.content).toMatch(/^Summary: user: message 1: w1x0 w1x1/);
  });
});

describe('model config fields', () => {
  it('creates, lists and patches max_output_tokens and compression_threshold with their rules', async () => {
    const config = await modelConfig({ context_limit: 8_192 });
    expect(config).toMatchObject({ max_output_tokens: 2_048, compression_threshold: 70 });
    const patched = await admin.request<{ max_output_tokens: number; compression_threshold: number }>(
      'PATCH',
      `/api/v1/chat/model-configs/${config.id}`,
      { max_output_tokens: 1_000, compression_threshold: 50 },
    );
    expect(patched).toMatchObject({ max_output_tokens: 1_000, compression_threshold: 50 });
    const listed = await admin.request<{ model_configs: { id: string; max_output_tokens: number }[] }>(
      'GET',
      '/api/v1/chat/model-configs',
    );
    expect(listed.model_configs.find((c) => c.id === config.id)?.max_output_tokens).toBe(1_000);
    // More than half the context is refused, also when the context shrinks under an explicit value.
    await expect(
      admin.request('PATCH', `/api/v1/chat/model-configs/${config.id}`, { max_output_tokens: 4_097 }),
    ).rejects.toMatchObject({ status: 400, code: 'E_INVALID_INPUT' });
    await expect(
      admin.request('PATCH', `/api/v1/chat/model-configs/${config.id}`, { context_limit: 1_000 }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      admin.request('PATCH', `/api/v1/chat/model-configs/${config.id}`, { compression_threshold: 0 }),
    ).rejects.toMatchObject({ status: 400 });
    // null goes back to the default, which follows the context.
    const reset = await admin.request<{ max_output_tokens: number }>(
      'PATCH',
      `/api/v1/chat/model-configs/${config.id}`,
      { max_output_tokens: null, context_limit: 1_000 },
    );
    expect(reset.max_output_tokens).toBe(250);
    await expect(modelConfig({ context_limit: 1_000, max_output_tokens: 501 })).rejects.toMatchObject({
      status: 400,
    });
  });
});

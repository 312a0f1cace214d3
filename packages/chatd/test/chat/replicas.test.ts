import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import type { QueryName } from '../../src/db/queries/index.js';
import { ChatFollower } from '../../src/scaletest/chat-follower.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { startLlmMockServer } from '../../src/scaletest/llm-mock-server.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

const db = useTestDatabase();
let a: ChatdServer;
let b: ChatdServer;
let adminA: ChatdClient;

/** Long TTLs: this file checks that warm turns read no config, not when entries expire. */
const configCache = {
  providersTtlMs: 600_000,
  modelConfigTtlMs: 600_000,
  defaultModelConfigTtlMs: 600_000,
  systemPromptTtlMs: 600_000,
  userPromptTtlMs: 600_000,
};

const CONFIG_QUERIES: readonly QueryName[] = [
  'getEnabledChatProviders',
  'getChatModelConfigById',
  'getDefaultChatModelConfig',
  'getSystemPrompt',
  'getUserChatPrompt',
];

beforeAll(async () => {
  a = await startTestServer(db.database.url, { configCache });
  b = await startTestServer(db.database.url, { configCache });
  adminA = new ChatdClient(a.url, a.firstAdmin!.token);
  await createModel(adminA, { provider: 'builtin', model: 'echo' });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

function totalQueries(): number {
  return a.queryStats.totalCalls() + b.queryStats.totalCalls();
}
function configQueries(): number {
  return CONFIG_QUERIES.reduce((sum, name) => sum + a.queryStats.calls(name) + b.queryStats.calls(name), 0);
}
function completedTurns(): number {
  return a.chatMetrics.count('completed') + b.chatMetrics.count('completed');
}

/** Runs `turns` turns in each chat, following each chat on one stream: create, then a follow-up after each turn. */
async function runChats(clients: ChatdClient[], chats: number, turns: number): Promise<void> {
  await Promise.all(
    Array.from({ length: chats }, async (_, index) => {
      const client = clients[index % clients.length]!;
      const chat = await client.createChat(`chat ${index} turn 1`);
      const follower = await ChatFollower.open(client, chat.id);
      try {
        for (let turn = 1; turn <= turns; turn++) {
          const state = await follower.until(
            (s) => s.status === 'waiting' && s.messages.size >= 2 * turn,
            60_000,
          );
          expect(state.messages.size).toBe(2 * turn);
          if (turn < turns) await client.sendMessage(chat.id, `chat ${index} turn ${turn + 1}`);
        }
      } finally {
        follower.close();
      }
    }),
  );
}

describe('two replicas on one database', () => {
  it('completes 50 chats x 3 turns, every turn exactly once, with no config query once warm', async () => {
    const member = await createMember(adminA, a.url, 'load');
    const viaB = new ChatdClient(
      b.url,
      (
        await adminA.request<{ token: string }>('POST', '/api/v1/users', {
          username: 'load-b',
          role: 'member',
        })
      ).token,
    );
    // Warm both replicas' caches with one turn each.
    await runChats([member, viaB], 2, 1);
    // A turn is counted just after its final events go out.
    await eventually(() => completedTurns() === 2, 'the warm-up turns are counted');
    // Warm what a turn reads on both replicas, for both users (the warm-up turns warmed only where they ran).
    for (const server of [a, b]) {
      await server.configCache.getEnabledProviders();
      await server.configCache.getDefaultModelConfig();
      await server.configCache.getSystemPrompt();
      for (const client of [member, viaB]) {
        const me = await client.request<{ id: string }>('GET', '/api/v1/users/me');
        await server.configCache.getUserPrompt(me.id);
      }
    }

    const queriesBefore = totalQueries();
    const before: Record<string, number> = {};
    for (const server of [a, b]) {
      for (const [name, count] of Object.entries(server.queryStats.snapshot()))
        before[`${server.replicaId}:${name}`] = count.calls;
    }
    const configBefore = configQueries();
    const turnsBefore = completedTurns();
    await runChats([member, viaB], 50, 3);
    await eventually(() => completedTurns() - turnsBefore >= 150, 'every turn is counted');
    const turns = completedTurns() - turnsBefore;
    expect(turns).toBe(150);

    // Exactly once: every chat holds 3 user and 3 assistant messages, alternating, each answer echoing its
    // question.
    const rows = await db.sql<{ chatId: string; role: string; content: string }[]>`
      SELECT m.chat_id, m.role, m.content FROM chat_messages m JOIN chats c ON c.id = m.chat_id
      JOIN users u ON u.id = c.owner_id WHERE u.username IN ('load', 'load-b')
      ORDER BY m.id`;
    const byChat = new Map<string, Array<{ role: string; content: string }>>();
    for (const row of rows) byChat.set(row.chatId, [...(byChat.get(row.chatId) ?? []), row]);
    // 2 warm-up chats of one turn, 50 load chats of three.
    expect([...byChat.values()].map((messages) => messages.length).sort()).toEqual([
      ...Array<number>(2).fill(2),
      ...Array<number>(50).fill(6),
    ]);
    const loadChats = [...byChat.values()].filter((messages) => messages.length === 6);
    for (const messages of loadChats) {
      expect(messages.map((m) => m.role)).toEqual([
        'user',
        'assistant',
        'user',
        'assistant',
        'user',
        'assistant',
      ]);
      for (let i = 0; i < 6; i += 2) expect(messages[i + 1]!.content).toBe(messages[i]!.content);
    }
    // Both replicas ran turns.
    expect(a.chatMetrics.count('completed')).toBeGreaterThan(0);
    expect(b.chatMetrics.count('completed')).toBeGreaterThan(0);

    expect(configQueries() - configBefore).toBe(0);
    const perTurn = (totalQueries() - queriesBefore) / turns;
    const byName: Record<string, number> = {};
    for (const server of [a, b]) {
      for (const [name, count] of Object.entries(server.queryStats.snapshot())) {
        byName[name] = (byName[name] ?? 0) + count.calls - (before[`${server.replicaId}:${name}`] ?? 0);
      }
    }
    const breakdown = Object.entries(byName)
      .filter(([, calls]) => calls > 0)
      .map(([name, calls]) => `${name} ${(calls / turns).toFixed(2)}`)
      .join(', ');
    process.stdout.write(
      `statements per turn at steady state (2 replicas, 150 turns, every named query): ${perTurn.toFixed(2)} = ${breakdown}\n`,
    );
    expect(perTurn).toBeLessThanOrEqual(8);
  });

  it('shows a user prompt changed through A in the very next turn run on B', async () => {
    const { modelConfigId } = await createModel(adminA, {
      provider: 'builtin',
      model: 'inspect',
      isDefault: false,
    });
    const frank = await createMember(adminA, a.url, 'frank');
    const chat = await frank.createChat('warm up', modelConfigId);
    const first = await waitForTurn(frank, chat.id, { minMessages: 2 });
    // From now on only B runs turns.
    await a.worker.stop();
    await frank.request('PUT', '/api/v1/chat/config/user-prompt', {
      custom_prompt: 'Always answer in haiku.',
    });
    await frank.sendMessage(chat.id, 'What are my instructions?');
    const next = await waitForTurn(frank, chat.id, { minMessages: 2, afterId: first.messages.at(-1)!.id });
    const report = JSON.parse(next.messages.at(-1)!.content) as { system: string; message_count: number };
    expect(report.system).toContain('<user-instructions>\nAlways answer in haiku.\n</user-instructions>');
    expect(report.message_count).toBe(3);
  });
});

describe('failover', () => {
  it('finishes a chat on another replica when its replica stops mid-turn', async () => {
    // Slow enough that C is surely gone before its provider answers, even on a loaded machine (with
    // 1.5 s C once finished the turn itself during a full suite run at load average 10 on 2 cores).
    const slow = await startLlmMockServer({ latencyMs: 4_000, responseTokens: 4 });
    // No grace: C gives its running turn back at once when it stops (a drain that ran out of time).
    const c = await startTestServer(db.database.url, { worker: { shutdownGraceMs: 0 } });
    const d = await startTestServer(db.database.url);
    try {
      const adminC = new ChatdClient(
        c.url,
        (
          await adminA.request<{ token: string }>('POST', '/api/v1/users', {
            username: 'admin-c',
            role: 'admin',
          })
        ).token,
      );
      const { modelConfigId } = await createModel(adminC, {
        provider: 'openai-compat',
        model: 'slow',
        baseUrl: slow.url,
        isDefault: false,
      });
      await d.worker.stop(); // only C may take the turn first
      await a.worker.stop().catch(() => {});
      await b.worker.stop();
      const grace = await createMember(adminC, c.url, 'grace');
      const chat = await grace.createChat('Survive a restart', modelConfigId);
      await eventually(
        async () => (await grace.getChat(chat.id)).chat.status === 'running',
        'C runs the turn',
      );
      // C goes away mid-turn (at once: starting a replica first can outlast the provider's latency on a
      // loaded machine, and C would finish the turn itself), then a replacement replica comes up.
      await c.close();
      const e = await startTestServer(db.database.url);
      try {
        await eventually(
          async () => (await db.store.getChatById(chat.id))?.status === 'waiting',
          'E finished the chat',
          30_000,
        );
        const messages = await db.store.listChatMessages(chat.id);
        expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
        expect(e.chatMetrics.count('completed')).toBe(1);
        expect(c.chatMetrics.count('released')).toBe(1);
        expect(c.chatMetrics.count('completed')).toBe(0);
      } finally {
        await e.close();
      }
    } finally {
      await c.close();
      await d.close();
      await slow.close();
    }
  });

  it('takes over a chat whose worker stopped heartbeating', async () => {
    const f = await startTestServer(db.database.url, { worker: { staleAfterMs: 500 } });
    try {
      const owner = await db.store.insertUser({ username: 'orphan-owner', role: 'member' });
      const chat = await db.store.insertChat({
        ownerId: owner.id,
        title: 'orphan',
        status: 'waiting',
        modelConfigId: null,
      });
      await db.store.insertChatMessage({
        chatId: chat.id,
        role: 'user',
        content: 'anyone there?',
        modelConfigId: null,
        inputTokens: null,
        outputTokens: null,
      });
      // A worker that died without a word: running, with a heartbeat long past.
      await db.sql`UPDATE chats SET status = 'running', worker_id = gen_random_uuid(), claim_id = gen_random_uuid(), heartbeat_at = now() - interval '1 hour' WHERE id = ${chat.id}`;
      await eventually(
        async () => (await db.store.getChatById(chat.id))?.status === 'waiting',
        'F finished the orphan',
        15_000,
      );
      const messages = await db.store.listChatMessages(chat.id);
      expect(messages.map((m) => [m.role, m.content])).toEqual([
        ['user', 'anyone there?'],
        ['assistant', 'anyone there?'],
      ]);
    } finally {
      await f.close();
    }
  });
});

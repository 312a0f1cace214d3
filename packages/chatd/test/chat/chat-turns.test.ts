import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import {
  type LlmMockServer,
  mockReplyText,
  startLlmMockServer,
} from '../../src/scaletest/llm-mock-server.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

const db = useTestDatabase();
let server: ChatdServer;
let admin: ChatdClient;
let mock: LlmMockServer;

beforeAll(async () => {
  server = await startTestServer(db.database.url);
  admin = new ChatdClient(server.url, server.firstAdmin!.token);
  mock = await startLlmMockServer({ apiKey: 'sk-mock-secret', responseTokens: 12, chunkDelayMs: 2 });
});
afterAll(async () => {
  await server?.close();
  await mock?.close();
});

describe('a chat turn', () => {
  it('runs end to end with builtin/echo: message committed, streamed, answered', async () => {
    const { modelConfigId } = await createModel(admin, { provider: 'builtin', model: 'echo' });
    const alice = await createMember(admin, server.url, 'alice');
    const chat = await alice.createChat('Hello, echo!');
    // This replica has room: the statement that created the chat claimed it for this replica's worker.
    expect(chat.status).toBe('running');
    const turn = await waitForTurn(alice, chat.id, { minMessages: 2 });
    expect(turn.status).toBe('waiting');
    expect(turn.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hello, echo!'],
      ['assistant', 'Hello, echo!'],
    ]);
    expect(turn.messages[1]!.model_config_id).toBe(modelConfigId);
    expect(turn.messages[1]!.output_tokens).toBeGreaterThan(0);

    // A turn followed live: connect first, then send.
    const controller = new AbortController();
    const events: Array<{ event: string; data: unknown }> = [];
    let sent = false;
    for await (const event of alice.stream(chat.id, {
      afterId: turn.messages[1]!.id,
      signal: controller.signal,
    })) {
      events.push(event);
      if (!sent) {
        sent = true;
        await alice.sendMessage(chat.id, 'Second message');
      }
      const status = event.event === 'status' ? (event.data as { status: string }).status : undefined;
      if (status === 'waiting' && events.filter((e) => e.event === 'message').length === 2) break;
    }
    controller.abort();
    const statuses = events
      .filter((e) => e.event === 'status')
      .map((e) => (e.data as { status: string }).status);
    // Claimed by the statement that accepted the message: from waiting straight to running.
    expect(statuses.join()).toBe('waiting,running,waiting');
    const parts = events
      .filter((e) => e.event === 'message_part')
      .map((e) => (e.data as { text: string }).text);
    expect(parts.join('')).toBe('Second message');
    const streamed = events
      .filter((e) => e.event === 'message')
      .map((e) => e.data as { role: string; content: string });
    expect(streamed.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Second message'],
      ['assistant', 'Second message'],
    ]);

    // The history is in the database, not only in the stream.
    const detail = await alice.getChat(chat.id);
    expect(detail.chat.status).toBe('waiting');
    expect(detail.messages.map((m) => m.content)).toEqual([
      'Hello, echo!',
      'Hello, echo!',
      'Second message',
      'Second message',
    ]);
  });

  it('runs against an OpenAI-compatible server through the real AI SDK, with the decrypted key', async () => {
    const { modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: mock.url,
      apiKey: 'sk-mock-secret',
      isDefault: false,
    });
    const bob = await createMember(admin, server.url, 'bob');
    const chat = await bob.createChat('Tell me something.', modelConfigId);
    const turn = await waitForTurn(bob, chat.id, { minMessages: 2 });
    expect(turn.status).toBe('waiting');
    const answer = turn.messages[1]!;
    expect(answer.role).toBe('assistant');
    expect(answer.content).toBe(mockReplyText(12));
    expect(answer.output_tokens).toBe(12);
    // The first answer and the chat's title are two calls, in either order: the answer's is the streamed one.
    type Body = { model: string; stream?: boolean; messages: Array<{ role: string; content: unknown }> };
    const answerCall = mock.recentRequests.filter((request) => (request.body as Body).stream === true).at(-1);
    expect(answerCall?.authorization).toBe('Bearer sk-mock-secret');
    const body = answerCall?.body as Body;
    expect(body.model).toBe('mock-model');
    expect(body.messages.at(-1)).toMatchObject({ role: 'user', content: 'Tell me something.' });
  });

  it('ends the turn with status error and a readable last_error when the provider fails', async () => {
    const { modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: mock.url,
      apiKey: 'sk-wrong-key',
      isDefault: false,
    });
    const carol = await createMember(admin, server.url, 'carol');
    const chat = await carol.createChat('Will this work?', modelConfigId);
    const turn = await waitForTurn(carol, chat.id, { minMessages: 1 });
    expect(turn.status).toBe('error');
    const detail = await carol.getChat(chat.id);
    expect(detail.chat.last_error).toMatch(/401/);
    expect(detail.chat.last_error).not.toContain('sk-wrong-key');
    // The chat is usable again: the next message starts a new turn.
    await carol.sendMessage(chat.id, 'Try again');
    const retry = await waitForTurn(carol, chat.id, { minMessages: 1, afterId: turn.messages.at(-1)!.id });
    expect(retry.status).toBe('error');
  });

  it('queues messages sent during a turn and promotes them in order', async () => {
    const slow = await startLlmMockServer({ latencyMs: 300, responseTokens: 3 });
    try {
      const { modelConfigId } = await createModel(admin, {
        provider: 'openai-compat',
        model: 'slow',
        baseUrl: slow.url,
        isDefault: false,
      });
      const dave = await createMember(admin, server.url, 'dave');
      const chat = await dave.createChat('first', modelConfigId);
      const second = await dave.sendMessage(chat.id, 'second');
      const third = await dave.sendMessage(chat.id, 'third');
      expect(second.queued).toBe(true);
      expect(third.queued).toBe(true);
      const turn = await waitForTurn(dave, chat.id, { minMessages: 6, timeoutMs: 20_000 });
      expect(turn.messages.map((m) => `${m.role}:${m.role === 'user' ? m.content : '…'}`)).toEqual([
        'user:first',
        'assistant:…',
        'user:second',
        'assistant:…',
        'user:third',
        'assistant:…',
      ]);
      expect((await dave.getChat(chat.id)).queued_messages).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('keeps the partial answer of an interrupted turn', async () => {
    const slow = await startLlmMockServer({ responseTokens: 200, chunkDelayMs: 20 });
    try {
      const { modelConfigId } = await createModel(admin, {
        provider: 'openai-compat',
        model: 'slow',
        baseUrl: slow.url,
        isDefault: false,
      });
      const erin = await createMember(admin, server.url, 'erin');
      const chat = await erin.createChat('Talk for a long time.', modelConfigId);
      const controller = new AbortController();
      let interrupted = false;
      for await (const event of erin.stream(chat.id, { signal: controller.signal })) {
        if (event.event === 'message_part' && !interrupted) {
          interrupted = true;
          await erin.request('POST', `/api/v1/chats/${chat.id}/interrupt`);
        }
        if (
          event.event === 'status' &&
          interrupted &&
          (event.data as { status: string }).status === 'waiting'
        )
          break;
      }
      controller.abort();
      const detail = await erin.getChat(chat.id);
      expect(detail.chat.status).toBe('waiting');
      const answer = detail.messages.find((m) => m.role === 'assistant');
      expect(answer).toBeDefined();
      expect(answer!.content.length).toBeGreaterThan(0);
      expect(answer!.content.length).toBeLessThan(mockReplyText(200).length);
    } finally {
      await slow.close();
    }
  });
});

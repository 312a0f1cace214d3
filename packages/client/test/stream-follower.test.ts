/**
 * The stream follower against a real chatd behind a proxy that can drop or stall connections: it resumes
 * with Last-Event-ID, delivers every message exactly once, replaces a dead connection, and ends for good
 * on a revoked credential or a deleted chat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../chatd/src/cli/chatd-server.js';
import { eventually } from '../../chatd/test/support/eventually.js';
import { type ScriptedLlm, startScriptedLlm } from '../../chatd/test/support/scripted-llm.js';
import { useTestDatabase } from '../../chatd/test/support/test-database.js';
import { startTestServer } from '../../chatd/test/support/test-server.js';
import {
  type ChatdClient,
  type ChatStreamEvent,
  createChatdClient,
  followChatStream,
  type StreamState,
} from '../src/index.js';
import { type CuttableProxy, startCuttableProxy } from './support/cuttable-proxy.js';

const db = useTestDatabase();
let llm: ScriptedLlm;
let server: ChatdServer;
let proxy: CuttableProxy;
let member: ChatdClient;
let memberToken: string;

beforeAll(async () => {
  // `slow …` streams 40 words over about 2 s; anything else answers at once.
  llm = await startScriptedLlm((request) =>
    request.lastUserContent.startsWith('slow')
      ? { chunks: Array.from({ length: 40 }, (_, index) => `w${index} `), delayMs: 50 }
      : { chunks: ['ok'] },
  );
  server = await startTestServer(db.database.url);
  proxy = await startCuttableProxy(server.url);
  const admin = createChatdClient({ baseUrl: server.url, token: server.firstAdmin!.token });
  const provider = await admin.call(
    admin.api.POST('/api/v1/chat/providers', {
      body: { provider: 'openai-compat', display_name: 'scripted', base_url: llm.url, api_key: 'sk-x' },
    }),
  );
  await admin.call(
    admin.api.POST('/api/v1/chat/model-configs', {
      body: {
        provider_id: provider.id,
        model: 'scripted',
        display_name: 'scripted',
        context_limit: 8192,
        is_default: true,
      },
    }),
  );
  const created = await admin.call(
    admin.api.POST('/api/v1/users', { body: { username: 'follower', role: 'member' } }),
  );
  memberToken = created.token;
  member = createChatdClient({ baseUrl: server.url, token: memberToken });
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
  await llm?.close();
});

/** A follower through the proxy that records every event and state. */
function follow(
  chatId: string,
  client: ChatdClient,
  options: { idleTimeoutMs?: number; afterId?: number } = {},
) {
  const events: ChatStreamEvent[] = [];
  const states: StreamState[] = [];
  const follower = followChatStream(client, chatId, {
    ...options,
    retryDelayMs: 50,
    onEvent: (event) => events.push(event),
    onState: (state) => states.push(state),
  });
  const messageIds = () =>
    events.flatMap((event) => (event.type === 'message' ? [Number(event.message.id)] : []));
  // An assistant message came, and the latest status is `waiting`. The status may come before the
  // answer: a stream that connects after the turn ended starts with the current status (`waiting`),
  // then the stored messages. A title may still follow.
  const finished = () => {
    const answered = events.some((event) => event.type === 'message' && event.message.role === 'assistant');
    const statuses = events.flatMap((event) => (event.type === 'status' ? [event.status] : []));
    return answered && statuses.at(-1) === 'waiting';
  };
  return { follower, events, states, messageIds, finished };
}

function proxied(token: string): ChatdClient {
  return createChatdClient({ baseUrl: proxy.url, token });
}

describe('followChatStream', () => {
  it('follows a turn: status, streamed parts, then the stored messages', async () => {
    const chat = await member.call(member.api.POST('/api/v1/chats', { body: { content: 'quick one' } }));
    const run = follow(chat.id, member);
    await eventually(() => run.finished(), 'the turn is finished', 15_000);
    run.follower.close();
    await run.follower.done;
    const roles = run.events.flatMap((event) => (event.type === 'message' ? [event.message.role] : []));
    expect(roles).toEqual(['user', 'assistant']);
    expect(run.events[0]).toMatchObject({ type: 'status' });
    expect(run.states).toEqual(['connecting', 'open', 'closed']);
  });

  it('resumes after a dropped connection with Last-Event-ID, no message twice', async () => {
    const chat = await member.call(member.api.POST('/api/v1/chats', { body: { content: 'slow drop' } }));
    const run = follow(chat.id, proxied(memberToken));
    await eventually(
      () => run.events.some((event) => event.type === 'message_part'),
      'a part arrived',
      15_000,
    );
    const userMessageId = run.messageIds()[0]!;
    const headsBefore = proxy.requestHeads.length;
    proxy.cut();
    await eventually(() => run.finished(), 'the turn is finished', 15_000);
    run.follower.close();
    await run.follower.done;

    expect(run.states).toContain('reconnecting');
    const resumedHead = proxy.requestHeads
      .slice(headsBefore)
      .find((head) => head.includes(`/chats/${chat.id}/stream`));
    expect(resumedHead?.toLowerCase()).toContain(`last-event-id: ${userMessageId}`);
    const stored = await member.call(
      member.api.GET('/api/v1/chats/{id}', { params: { path: { id: chat.id } } }),
    );
    const storedIds = stored.messages
      .map((message: { id: number }) => Number(message.id))
      .sort((a: number, b: number) => a - b);
    expect(run.messageIds()).toEqual(storedIds);
  });

  it('replaces a connection that went silent', async () => {
    const chat = await member.call(member.api.POST('/api/v1/chats', { body: { content: 'slow stall' } }));
    const run = follow(chat.id, proxied(memberToken), { idleTimeoutMs: 500 });
    await eventually(() => run.states.includes('open'), 'the stream is open', 10_000);
    const connectionsBefore = proxy.connections;
    proxy.stall();
    await eventually(() => run.finished(), 'the turn is finished', 15_000);
    run.follower.close();
    await run.follower.done;
    expect(proxy.connections).toBeGreaterThan(connectionsBefore);
    expect(new Set(run.messageIds()).size).toBe(run.messageIds().length);
  });

  it('ends with the 401 when its token is revoked', async () => {
    const issued = await member.call(
      member.api.POST('/api/v1/users/me/tokens', { body: { name: 'doomed' } }),
    );
    const doomed = createChatdClient({ baseUrl: server.url, token: issued.token });
    const chat = await doomed.call(doomed.api.POST('/api/v1/chats', { body: { content: 'quick revoke' } }));
    const run = follow(chat.id, doomed);
    await eventually(() => run.states.includes('open'), 'the stream is open', 10_000);
    await member.call(
      member.api.DELETE('/api/v1/users/me/tokens/{id}', { params: { path: { id: issued.id } } }),
    );
    await expect(run.follower.done).rejects.toMatchObject({ status: 401 });
    expect(run.states.at(-1)).toBe('closed');
  });

  it('ends after the chat is deleted', async () => {
    const chat = await member.call(member.api.POST('/api/v1/chats', { body: { content: 'quick delete' } }));
    const run = follow(chat.id, member);
    await eventually(() => run.states.includes('open'), 'the stream is open', 10_000);
    await member.call(member.api.DELETE('/api/v1/chats/{id}', { params: { path: { id: chat.id } } }));
    await run.follower.done;
    expect(run.events.at(-1)).toEqual({ type: 'deleted', chat_id: chat.id });
  });

  it('refuses another user’s chat with a 404 and does not retry', async () => {
    const chat = await member.call(member.api.POST('/api/v1/chats', { body: { content: 'quick private' } }));
    const admin = createChatdClient({ baseUrl: proxy.url, token: server.firstAdmin!.token });
    const connectionsBefore = proxy.connections;
    const run = follow(chat.id, admin);
    await expect(run.follower.done).rejects.toMatchObject({ status: 404, code: 'E_NOT_FOUND' });
    expect(proxy.connections - connectionsBefore).toBeLessThanOrEqual(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { ChatdClient, type MessageJson } from '../../src/scaletest/chatd-client.js';
import { SseClient } from '../http/support/sse-client.js';
import { eventually } from '../support/eventually.js';
import { type ScriptedLlm, type ScriptedReply, startScriptedLlm } from '../support/scripted-llm.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

/**
 * Titles, usage, edit and regenerate, end to end: a full replica, a real PostgreSQL, and a scripted
 * OpenAI-compatible provider over HTTP that sees exactly what chatd sends.
 */
const db = useTestDatabase();
let llm: ScriptedLlm;
let server: ChatdServer;
let admin: ChatdClient;
let modelConfigId: string;

/** Answers: title requests with a quoted title (slowly for `slow-title`), `slow …` slowly, others at once. */
function script(request: { lastUserContent: string; isTitle: boolean }): ScriptedReply {
  const attempt = llm.requestsFor(request.lastUserContent).length;
  if (request.isTitle) {
    const delayMs = request.lastUserContent.startsWith('slow-title') ? 1_500 : 0;
    return { chunks: ['"Trip', ' to Paris."'], firstDelayMs: delayMs };
  }
  if (request.lastUserContent.startsWith('slow')) {
    return { chunks: ['one ', 'two ', 'three ', 'four'], firstDelayMs: 100, delayMs: 400 };
  }
  return { chunks: [`answer to ${request.lastUserContent} #${attempt}`] };
}

beforeAll(async () => {
  llm = await startScriptedLlm(script);
  server = await startTestServer(db.database.url);
  admin = new ChatdClient(server.url, server.firstAdmin!.token);
  ({ modelConfigId } = await createModel(admin, {
    provider: 'openai-compat',
    model: 'scripted',
    baseUrl: llm.url,
  }));
});
afterAll(async () => {
  await server?.close();
  await llm?.close();
});

let sequence = 0;
async function member(): Promise<ChatdClient> {
  sequence += 1;
  return createMember(admin, server.url, `talker-${sequence}`);
}

async function chatRow(chatId: string) {
  const [row] = await db.sql<
    [{ title: string; titleState: string; inputTokens: number; outputTokens: number }]
  >`
    SELECT title, title_state, input_tokens, output_tokens FROM chats WHERE id = ${chatId}`;
  return row;
}

describe('titles', () => {
  it('are generated beside the first answer, without quotes, streamed with its end, and only once', async () => {
    const alice = await member();
    // A slow answer (1.3 s) and a quick title: the stream is open before the turn ends.
    const chat = await alice.createChat('slow: plan a weekend in Paris for two');
    const stream = await SseClient.connect(`${server.url}/api/v1/chats/${chat.id}/stream`, alice.token);
    const ended = (events: readonly (typeof stream.events)[number][]) =>
      events.some((e) => e.event === 'status' && (e.data as { status: string }).status === 'waiting');
    await stream.waitFor(ended, 'the end of the turn');
    expect(stream.ofType('title').map((e) => e.data)).toEqual([{ title: 'Trip to Paris' }]);
    // Ready before the answer, so written by the turn's end and sent with it: before the `waiting` status.
    const kinds = stream.events.map((e) => e.event);
    expect(kinds.indexOf('title')).toBeLessThan(kinds.lastIndexOf('status'));
    expect(kinds.indexOf('title')).toBeGreaterThan(kinds.lastIndexOf('message'));
    expect(await chatRow(chat.id)).toMatchObject({ title: 'Trip to Paris', titleState: 'generated' });
    // The title model got the first message, and no history.
    const [titleRequest] = llm
      .titleRequests()
      .filter((r) => r.lastUserContent === 'slow: plan a weekend in Paris for two');
    expect(titleRequest!.messages).toHaveLength(2);

    await alice.sendMessage(chat.id, 'And a museum?');
    await waitForTurn(alice, chat.id, { minMessages: 4 });
    expect(llm.titleRequests().filter((r) => r.lastUserContent === 'And a museum?')).toEqual([]);
    expect((await alice.getChat(chat.id)).chat.title).toBe('Trip to Paris');
    await stream.close();
  });

  it('do not delay the turn: the answer and waiting arrive before a slow title', async () => {
    const bob = await member();
    const chat = await bob.createChat('slow-title please');
    const turn = await waitForTurn(bob, chat.id, { minMessages: 2 });
    expect(turn.status).toBe('waiting');
    // The title model has been asked, but has not answered yet.
    await eventually(
      () => llm.titleRequests().some((r) => r.lastUserContent === 'slow-title please'),
      'title asked',
    );
    // Still the provisional title: the turn's end did not wait for it; it is written on its own.
    expect(await chatRow(chat.id)).toMatchObject({ title: 'slow-title please', titleState: 'pending' });
    await eventually(async () => (await chatRow(chat.id)).titleState === 'generated', 'title written', 5_000);
  });

  it('a rename by the owner wins over a title being generated, and is streamed', async () => {
    const carol = await member();
    const chat = await carol.createChat('slow-title rename me');
    await eventually(
      () => llm.titleRequests().some((r) => r.lastUserContent === 'slow-title rename me'),
      'title asked',
    );
    const stream = await SseClient.connect(`${server.url}/api/v1/chats/${chat.id}/stream`, carol.token);
    const renamed = await carol.request<{ title: string }>('PATCH', `/api/v1/chats/${chat.id}`, {
      title: '  My   chat ',
    });
    expect(renamed.title).toBe('My chat');
    await stream.waitFor((events) => events.some((e) => e.event === 'title'), 'the rename');
    // The generation finishes later and must not overwrite the owner's title.
    await new Promise((resolve) => setTimeout(resolve, 1_800));
    expect(await chatRow(chat.id)).toMatchObject({ title: 'My chat', titleState: 'user' });
    expect(stream.ofType('title').map((e) => e.data.title)).toEqual(['My chat']);
    await stream.close();
    const blank = await fetch(`${server.url}/api/v1/chats/${chat.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${carol.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: '   ' }),
    });
    expect(blank.status).toBe(400);
  });
});

describe('usage', () => {
  it('sums the tokens of every turn on the chat, per user and per model config, and in the metrics', async () => {
    const dave = await member();
    const metric = async () =>
      (await server.registry.getSingleMetric('chatd_llm_tokens_total')?.get())?.values
        .filter((v) => v.labels.model_config === modelConfigId)
        .reduce((sum, v) => sum + v.value, 0) ?? 0;
    const before = await metric();
    const chat = await dave.createChat('count me');
    await waitForTurn(dave, chat.id, { minMessages: 2 });
    await dave.sendMessage(chat.id, 'count me again');
    const turn = await waitForTurn(dave, chat.id, { minMessages: 4 });

    const answers = turn.messages.filter((m) => m.role === 'assistant');
    const input = answers.reduce((sum, m) => sum + (m.input_tokens ?? 0), 0);
    const output = answers.reduce((sum, m) => sum + (m.output_tokens ?? 0), 0);
    expect(input).toBeGreaterThan(0);
    const detail = await dave.request<{ chat: { usage: { input_tokens: number; output_tokens: number } } }>(
      'GET',
      `/api/v1/chats/${chat.id}`,
    );
    expect(detail.chat.usage).toEqual({ input_tokens: input, output_tokens: output });

    const byUser = await admin.request<{
      rows: Array<{ key: string; name: string; input_tokens: number; output_tokens: number; turns: number }>;
    }>('GET', '/api/v1/usage?group_by=user');
    const me = await dave.request<{ id: string; username: string }>('GET', '/api/v1/users/me');
    expect(byUser.rows.find((row) => row.key === me.id)).toEqual({
      key: me.id,
      name: me.username,
      input_tokens: input,
      output_tokens: output,
      turns: 2,
    });
    const byModel = await admin.request<{ rows: Array<{ key: string; turns: number }> }>(
      'GET',
      '/api/v1/usage?group_by=model_config',
    );
    expect(byModel.rows.find((row) => row.key === modelConfigId)!.turns).toBeGreaterThanOrEqual(2);
    expect(await metric()).toBe(before + input + output);

    // A range without that day has none of it; a bad range is a 400.
    const empty = await admin.request<{ rows: unknown[] }>(
      'GET',
      '/api/v1/usage?from=2001-01-01&to=2001-01-31',
    );
    expect(empty.rows).toEqual([]);
    const inverted = await fetch(`${server.url}/api/v1/usage?from=2026-02-01&to=2026-01-01`, {
      headers: { authorization: `Bearer ${server.firstAdmin!.token}` },
    });
    expect(inverted.status).toBe(400);
  });
});

describe('edit and regenerate', () => {
  async function twoTurns(client: ChatdClient, first: string, second: string) {
    const chat = await client.createChat(first);
    await waitForTurn(client, chat.id, { minMessages: 2 });
    await client.sendMessage(chat.id, second);
    const turn = await waitForTurn(client, chat.id, { minMessages: 4 });
    return { chatId: chat.id, messages: turn.messages };
  }
  const contents = (messages: readonly MessageJson[]) => messages.map((m) => `${m.role}: ${m.content}`);

  it('an edit removes everything after the message and runs the turn again from there', async () => {
    const erin = await member();
    const { chatId, messages } = await twoTurns(erin, 'first question', 'second question');
    const stream = await SseClient.connect(`${server.url}/api/v1/chats/${chatId}/stream`, erin.token, {
      'last-event-id': String(messages.at(-1)!.id),
    });
    const edited = await erin.request<{ message: MessageJson }>(
      'PATCH',
      `/api/v1/chats/${chatId}/messages/${messages[0]!.id}`,
      { content: 'first question, edited' },
    );
    expect(edited.message).toMatchObject({ role: 'user', content: 'first question, edited' });
    expect(edited.message.id).toBeGreaterThan(messages.at(-1)!.id);
    await stream.waitFor(
      (events) =>
        events.some(
          (e) => e.event === 'message' && e.data.role === 'assistant' && e.data.id > edited.message.id,
        ),
      'the new answer',
    );
    expect(stream.ofType('truncate').map((e) => e.data)).toEqual([{ after_id: 0 }]);

    const after = await erin.getChat(chatId);
    expect(contents(after.messages)).toEqual([
      'user: first question, edited',
      'assistant: answer to first question, edited #1',
    ]);
    // The provider got the edited question and nothing of the removed turns.
    const [request] = llm.requestsFor('first question, edited');
    expect(request!.messages.map((m) => m.content)).toEqual(['first question, edited']);
    await stream.close();

    // A client resuming past the edit is told of the truncation and sent the history again.
    const resumed = await SseClient.connect(`${server.url}/api/v1/chats/${chatId}/stream`, erin.token, {
      'last-event-id': String(messages.at(-1)!.id),
    });
    await resumed.waitFor(
      (events) => events.filter((e) => e.event === 'message').length === 2,
      'the history',
    );
    expect(resumed.ofType('truncate').map((e) => e.data)).toEqual([{ after_id: 0 }]);
    await resumed.close();
  });

  it('an edit while a turn runs interrupts it first: its answer is never written', async () => {
    const frank = await member();
    const chat = await frank.createChat('quick one');
    await waitForTurn(frank, chat.id, { minMessages: 2 });
    await frank.sendMessage(chat.id, 'slow second');
    await frank.sendMessage(chat.id, 'queued third');
    await eventually(() => llm.requestsFor('slow second').length === 1, 'the slow turn started');
    const detail = await frank.getChat(chat.id);
    const slow = detail.messages.find((m) => m.content === 'slow second')!;
    await frank.request('PATCH', `/api/v1/chats/${chat.id}/messages/${slow.id}`, {
      content: 'second, edited',
    });
    const turn = await waitForTurn(frank, chat.id, { minMessages: 4 });
    expect(contents(turn.messages)).toEqual([
      'user: quick one',
      'assistant: answer to quick one #1',
      'user: second, edited',
      'assistant: answer to second, edited #1',
    ]);
    // The old provider call was cut off, the queued message went with the edit.
    await eventually(
      () => llm.requestsFor('slow second')[0]!.closedEarlyAt !== undefined,
      'the old call aborted',
    );
    const final = await frank.getChat(chat.id);
    expect(final.queued_messages).toEqual([]);
    const [{ count }] = await db.sql<[{ count: number }]>`
      SELECT count(*)::int AS count FROM chat_messages WHERE chat_id = ${chat.id} AND role = 'assistant'`;
    expect(count).toBe(2);
  });

  it('regenerate runs the last answer again, and while a turn runs restarts it', async () => {
    const gina = await member();
    const { chatId } = await twoTurns(gina, 'one', 'two');
    await gina.request('POST', `/api/v1/chats/${chatId}/regenerate`);
    await eventually(async () => {
      const detail = await gina.getChat(chatId);
      return detail.chat.status === 'waiting' && detail.messages.at(-1)?.content === 'answer to two #2';
    }, 'the new answer');
    const detail = await gina.getChat(chatId);
    expect(contents(detail.messages)).toEqual([
      'user: one',
      'assistant: answer to one #1',
      'user: two',
      'assistant: answer to two #2',
    ]);

    await gina.sendMessage(chatId, 'slow three');
    await eventually(() => llm.requestsFor('slow three').length === 1, 'the slow turn started');
    await gina.request('POST', `/api/v1/chats/${chatId}/regenerate`);
    await eventually(() => llm.requestsFor('slow three').length === 2, 'asked again');
    const turn = await waitForTurn(gina, chatId, { minMessages: 6, timeoutMs: 10_000 });
    const answers = turn.messages.filter((m) => m.content === 'one two three four');
    expect(answers).toHaveLength(1);
    expect(llm.requestsFor('slow three')[0]!.closedEarlyAt).toBeDefined();
  });

  it('refuses what cannot be edited or regenerated', async () => {
    const hank = await member();
    const other = await member();
    const { chatId, messages } = await twoTurns(hank, 'a', 'b');
    const call = (client: ChatdClient, method: string, path: string, body?: unknown) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${client.token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const answer = messages.find((m) => m.role === 'assistant')!;
    expect(
      (await call(hank, 'PATCH', `/api/v1/chats/${chatId}/messages/${answer.id}`, { content: 'x' })).status,
    ).toBe(400);
    expect(
      (await call(hank, 'PATCH', `/api/v1/chats/${chatId}/messages/999999999`, { content: 'x' })).status,
    ).toBe(404);
    expect(
      (await call(other, 'PATCH', `/api/v1/chats/${chatId}/messages/${messages[0]!.id}`, { content: 'x' }))
        .status,
    ).toBe(404);
    expect(
      (await call(hank, 'PATCH', `/api/v1/chats/${chatId}/messages/${messages[0]!.id}`, { content: ' ' }))
        .status,
    ).toBe(400);
    expect((await call(other, 'POST', `/api/v1/chats/${chatId}/regenerate`)).status).toBe(404);
    // A chat whose only message is unanswered and idle has nothing to regenerate.
    const lone = await db.store.insertChat({
      ownerId: (await hank.request<{ id: string }>('GET', '/api/v1/users/me')).id,
      title: 't',
      status: 'waiting',
      modelConfigId: null,
    });
    expect((await call(hank, 'POST', `/api/v1/chats/${lone.id}/regenerate`)).status).toBe(409);
    // Nothing changed in the chat by the refused calls.
    expect(contents((await hank.getChat(chatId)).messages)).toEqual(contents(messages));
  });
});

/**
 * The turn engine under faults (docs/design.md, "The turn engine"): the eight breakages of issue 10, each
 * reproduced over real HTTP, a real PostgreSQL (reached through a TCP proxy where the database must fail)
 * and a real, scripted OpenAI-compatible provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { createSql, type Sql } from '../../src/db/connection.js';
import type { Store } from '../../src/db/store.js';
import { ChatFollower } from '../../src/scaletest/chat-follower.js';
import { ChatdClient, type StreamEvent } from '../../src/scaletest/chatd-client.js';
import { TcpProxy } from '../pubsub/tcp-proxy.js';
import { eventually } from '../support/eventually.js';
import { type ScriptedLlm, type ScriptedReply, startScriptedLlm } from '../support/scripted-llm.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { createModel, startTestServer } from '../support/test-server.js';

let llm: ScriptedLlm;

/** What a message asks the scripted provider to do: its first word. */
function script(request: { index: number; lastUserContent: string }): ScriptedReply {
  const [kind] = request.lastUserContent.split(' ', 1);
  const attempt = llm.requestsFor(request.lastUserContent).length;
  switch (kind) {
    case 'refuse':
      return { status: 400, message: 'the model refuses', delayMs: 300 };
    case 'flaky':
      return attempt === 1 ? { status: 400, message: 'bad request', delayMs: 300 } : { chunks: ['fixed'] };
    case 'nul':
      return { chunks: ['a\u0000b', ' \ud800c'] };
    case 'late':
      return { chunks: ['too', ' late'], firstDelayMs: 1_500 };
    case 'slow':
      return { chunks: Array.from({ length: 60 }, () => `r${request.index}.`), delayMs: 100 };
    case 'steady':
      return { chunks: Array.from({ length: 10 }, (_, i) => `w${i} `), delayMs: 100 };
    case 'silent':
      return { chunks: ['hello'], end: 'hang' };
    default:
      return { chunks: ['answer to ', request.lastUserContent] };
  }
}

/** Worker settings of every replica here: short idle timeout and retry backoff. */
const WORKER = { turn: { idleTimeoutMs: 1_000, retryBaseDelayMs: 10, retryMaxDelayMs: 20 } };

type ServerOverrides = NonNullable<Parameters<typeof startTestServer>[1]>;

/** A database of its own with replicas on it, a model config on the scripted provider and a member. */
class Cluster {
  readonly servers: ChatdServer[] = [];
  readonly proxies: TcpProxy[] = [];
  member!: ChatdClient;
  memberToken!: string;
  modelConfigId!: string;
  sql!: Sql;

  private constructor(readonly database: TestDatabase) {}

  static async start(first: ServerOverrides = {}, options: { proxied?: boolean } = {}): Promise<Cluster> {
    const cluster = new Cluster(await createTestDatabase());
    cluster.sql = createSql(cluster.database.url, { maxConnections: 2 });
    const server = options.proxied ? await cluster.startProxied(first) : await cluster.startReplica(first);
    const admin = new ChatdClient(server.url, server.firstAdmin!.token);
    ({ modelConfigId: cluster.modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'scripted',
      baseUrl: llm.url,
      apiKey: 'sk-scripted',
    }));
    const created = await admin.request<{ token: string }>('POST', '/api/v1/users', {
      username: 'engine',
      role: 'member',
    });
    cluster.memberToken = created.token;
    cluster.member = new ChatdClient(server.url, created.token);
    return cluster;
  }

  async startReplica(overrides: ServerOverrides = {}, url = this.database.url): Promise<ChatdServer> {
    const server = await startTestServer(url, { ...overrides, worker: { ...WORKER, ...overrides.worker } });
    this.servers.push(server);
    return server;
  }

  /** A replica whose every database connection (pool and listener) goes through a proxy: `proxy`. */
  async startProxied(overrides: ServerOverrides = {}): Promise<ChatdServer & { proxy: TcpProxy }> {
    const proxy = await TcpProxy.start(this.database.url);
    this.proxies.push(proxy);
    const server = await this.startReplica(overrides, proxy.urlFor(this.database.url));
    return Object.assign(server, { proxy });
  }

  /** A client of the member on another replica. */
  memberOn(server: ChatdServer): ChatdClient {
    return new ChatdClient(server.url, this.memberToken);
  }

  async close(): Promise<void> {
    for (const server of this.servers.splice(0)) await server.close().catch(() => {});
    for (const proxy of this.proxies.splice(0)) await proxy.close();
    await this.sql?.end({ timeout: 5 });
    await this.database.drop();
  }

  async messages(chatId: string): Promise<MessageRow[]> {
    return this.sql<MessageRow[]>`
      SELECT id::int, role, content, finish_reason, reply_to::int AS reply_to FROM chat_messages
      WHERE chat_id = ${chatId} ORDER BY id`;
  }

  async chat(chatId: string): Promise<ChatState> {
    const [row] = await this.sql<ChatState[]>`
      SELECT status, last_error, queued_messages, worker_id, claim_id FROM chats WHERE id = ${chatId}`;
    return row!;
  }

  /** Waits until the chat is idle (`waiting` or `error`) with at least `count` messages. */
  async settled(chatId: string, count: number, timeoutMs = 15_000): Promise<MessageRow[]> {
    await eventually(
      async () => {
        const { status } = await this.chat(chatId);
        return (status === 'waiting' || status === 'error') && (await this.messages(chatId)).length >= count;
      },
      `chat ${chatId} settles with ${count} messages`,
      timeoutMs,
    );
    return this.messages(chatId);
  }

  async running(chatId: string, workerId?: string): Promise<ChatState> {
    let state!: ChatState;
    await eventually(
      async () => {
        state = await this.chat(chatId);
        return state.status === 'running' && (workerId === undefined || state.workerId === workerId);
      },
      `chat ${chatId} runs`,
      10_000,
    );
    return state;
  }
}

interface MessageRow {
  id: number;
  role: string;
  content: string;
  finishReason: string | null;
  replyTo: number | null;
}

interface ChatState {
  status: string;
  lastError: string | null;
  queuedMessages: number;
  workerId: string | null;
  claimId: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers of a chat's messages: [role, content, finishReason]. */
const shape = (messages: MessageRow[]) => messages.map((m) => [m.role, m.content, m.finishReason]);

beforeAll(async () => {
  llm = await startScriptedLlm(script);
});
afterAll(async () => {
  await llm?.close();
});

describe('1. a failed turn with a queued message', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start();
  });
  afterAll(() => cluster?.close());

  it('ends in error with its queue kept, and calls the provider once: no loop', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('refuse q1', modelConfigId);
    expect((await member.sendMessage(chat.id, 'ok q2')).queued).toBe(true);
    await cluster.settled(chat.id, 2);
    // Long enough for a loop to show: each failed attempt takes 300 ms.
    await sleep(1_500);
    expect(llm.requestsFor('refuse q1')).toHaveLength(1);
    expect(llm.requestsFor('ok q2')).toHaveLength(0);
    const row = await cluster.chat(chat.id);
    expect(row.status).toBe('error');
    expect(row.lastError).toMatch(/HTTP 400.*the model refuses/);
    expect(row.queuedMessages).toBe(1);
    expect(shape(await cluster.messages(chat.id))).toEqual([
      ['user', 'refuse q1', null],
      ['assistant', '', 'error'],
    ]);
  });

  it('is resumed by POST /retry: the failed question, then the queue, in order', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('flaky q1', modelConfigId);
    await member.sendMessage(chat.id, 'ok q2');
    await cluster.settled(chat.id, 2);
    expect((await cluster.chat(chat.id)).status).toBe('error');
    await member.request('POST', `/api/v1/chats/${chat.id}/retry`);
    const messages = await cluster.settled(chat.id, 5);
    expect(shape(messages)).toEqual([
      ['user', 'flaky q1', null],
      ['assistant', '', 'error'],
      ['assistant', 'fixed', 'stop'],
      ['user', 'ok q2', null],
      ['assistant', 'answer to ok q2', 'stop'],
    ]);
    expect(messages[2]!.replyTo).toBe(messages[0]!.id);
    expect(messages[4]!.replyTo).toBe(messages[3]!.id);
    expect(llm.requestsFor('flaky q1')).toHaveLength(2);
    // Retry only resumes a chat in error.
    await expect(member.request('POST', `/api/v1/chats/${chat.id}/retry`)).rejects.toMatchObject({
      status: 409,
    });
  });

  it('is resumed by the next message the user sends', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('flaky q3', modelConfigId);
    await member.sendMessage(chat.id, 'ok q4');
    await cluster.settled(chat.id, 2);
    await member.sendMessage(chat.id, 'ok q5');
    const messages = await cluster.settled(chat.id, 7);
    expect(messages.filter((m) => m.finishReason === 'stop').map((m) => m.content)).toEqual([
      'fixed',
      'answer to ok q4',
      'answer to ok q5',
    ]);
    expect((await cluster.chat(chat.id)).status).toBe('waiting');
  });

  it('cuts off a provider that goes silent after the idle timeout, without retrying it', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('silent q', modelConfigId);
    const messages = await cluster.settled(chat.id, 2, 10_000);
    expect(shape(messages)).toEqual([
      ['user', 'silent q', null],
      ['assistant', 'hello', 'error'],
    ]);
    expect((await cluster.chat(chat.id)).lastError).toMatch(/no data for 1 s/);
    expect(llm.requestsFor('silent q')).toHaveLength(1);
    expect(llm.requestsFor('silent q')[0]!.closedEarlyAt).toBeDefined();
  });
});

describe('2. a turn whose end cannot be written', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ worker: { completionRetryDelaysMs: [100, 200] } }, { proxied: true });
  });
  afterAll(() => cluster?.close());

  it('stores model output PostgreSQL would refuse (NUL, lone surrogates) in a storable form', async () => {
    const chat = await cluster.member.createChat('nul q', cluster.modelConfigId);
    const messages = await cluster.settled(chat.id, 2, 10_000);
    expect(shape(messages)[1]).toEqual(['assistant', 'ab \ufffdc', 'stop']);
    expect((await cluster.chat(chat.id)).status).toBe('waiting');
  });

  it('is not heartbeated once its turn gave up: the chat is taken over, never left running', async () => {
    const proxy = cluster.proxies[0]!;
    const chat = await cluster.member.createChat('steady q', cluster.modelConfigId);
    await eventually(() => llm.requestsFor('steady q').length === 1, 'the provider is called');
    // The database goes away while the answer streams (1 s), and stays away until the turn gave up its
    // end (its retries, 100 + 200 ms, may each wait for the pool's connect timeout first): waited for by
    // the turn's outcome, not timed, since a loaded machine is slower at every step.
    const released = cluster.servers[0]!.chatMetrics.count('released');
    proxy.setMode('refuse');
    await eventually(
      () => cluster.servers[0]!.chatMetrics.count('released') > released,
      'the turn gave up its end',
      30_000,
    );
    proxy.setMode('forward');
    const messages = await cluster.settled(chat.id, 2, 20_000);
    expect(shape(messages)).toEqual([
      ['user', 'steady q', null],
      ['assistant', 'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ', 'stop'],
    ]);
    // Taken over once: the first attempt's answer was never written, the second one's was.
    expect(llm.requestsFor('steady q')).toHaveLength(2);
  });
});

describe('3. an interrupt before the first token, with messages queued', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    // One turn at a time: a second chat stays pending while the first runs.
    cluster = await Cluster.start({ worker: { maxConcurrentTurns: 1 } });
  });
  afterAll(() => cluster?.close());

  it('leaves an empty interrupted answer, then the queue proceeds: the question is not asked again', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('late q1', modelConfigId);
    await member.sendMessage(chat.id, 'ok q2');
    await cluster.running(chat.id);
    // Before the first token, but after the call: `running` can be seen before the provider is asked.
    await eventually(() => llm.requestsFor('late q1').length === 1, 'the provider is called');
    await member.request('POST', `/api/v1/chats/${chat.id}/interrupt`);
    const messages = await cluster.settled(chat.id, 4);
    expect(shape(messages)).toEqual([
      ['user', 'late q1', null],
      ['assistant', '', 'interrupted'],
      ['user', 'ok q2', null],
      ['assistant', 'answer to ok q2', 'stop'],
    ]);
    expect(llm.requestsFor('late q1')).toHaveLength(1);
  });

  it('sticks when only the database knows of it (the notification was missed): the heartbeat reads it', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('steady q2', modelConfigId);
    await eventually(() => llm.requestsFor('steady q2').length === 1, 'the provider is called');
    // What the interrupt route records, without the pubsub request that usually comes with it.
    await cluster.sql`UPDATE chats SET interrupt_requested = true WHERE id = ${chat.id}`;
    const messages = await cluster.settled(chat.id, 2);
    expect(messages[1]).toMatchObject({ role: 'assistant', finishReason: 'interrupted' });
    expect(messages[1]!.content.length).toBeLessThan('w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 '.length);
    expect(llm.requestsFor('steady q2')[0]!.closedEarlyAt).toBeDefined();
  });

  it('interrupting a pending chat ends its turn as interrupted too', async () => {
    const { member, modelConfigId } = cluster;
    // The only turn slot is busy: the second chat waits, pending, and is interrupted so.
    const busy = await member.createChat('steady q3', modelConfigId);
    await cluster.running(busy.id);
    const chat = await member.createChat('ok q3', modelConfigId);
    expect((await cluster.chat(chat.id)).status).toBe('pending');
    await member.request('POST', `/api/v1/chats/${chat.id}/interrupt`);
    const messages = await cluster.settled(chat.id, 2);
    expect(shape(messages)).toEqual([
      ['user', 'ok q3', null],
      ['assistant', '', 'interrupted'],
    ]);
    expect(llm.requestsFor('ok q3')).toHaveLength(0);
    await cluster.settled(busy.id, 2);
  });
});

describe('4. a turn taken over from a slow but live replica', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({}, { proxied: true });
  });
  afterAll(() => cluster?.close());

  it('is stopped on the old replica within a heartbeat, and its parts reach no stream', async () => {
    const [slow] = cluster.servers as [ChatdServer];
    const proxy = cluster.proxies[0]!;
    const chat = await cluster.member.createChat('slow q', cluster.modelConfigId);
    await cluster.running(chat.id, slow.replicaId);
    await eventually(() => llm.requestsFor('slow q').length === 1, 'the provider is called');
    const first = llm.requestsFor('slow q')[0]!;
    // The slow replica loses the database (a partition) while it streams; another replica takes over.
    proxy.setMode('blackhole');
    const other = await cluster.startReplica();
    const events: StreamEvent[] = [];
    const follower = await ChatFollower.open(cluster.memberOn(other), chat.id, (event) => events.push(event));
    try {
      await cluster.running(chat.id, other.replicaId);
      // The partition ends: the slow replica is live again and learns it lost the chat.
      proxy.setMode('refuse');
      proxy.setMode('forward');
      await eventually(() => first.closedEarlyAt !== undefined, 'the first provider call is aborted', 5_000);
      await follower.until((state) => state.status === 'waiting', 20_000);
    } finally {
      follower.close();
    }
    const lastRunning = events.findLastIndex(
      (event) => event.event === 'status' && (event.data as { status: string }).status === 'running',
    );
    const staleParts = events
      .slice(lastRunning)
      .filter(
        (event) =>
          event.event === 'message_part' &&
          (event.data as { text: string }).text.includes(`r${first.index}.`),
      );
    expect(staleParts).toEqual([]);
    const answers = (await cluster.messages(chat.id)).filter((m) => m.role === 'assistant');
    expect(answers).toHaveLength(1);
    expect(answers[0]!.content).not.toContain(`r${first.index}.`);
    expect(first.finishedAt).toBeUndefined();
  });
});

describe('5. a clean stop', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start();
  });
  afterAll(() => cluster?.close());

  it('lets running turns finish instead of aborting them', async () => {
    const server = await cluster.startReplica({ worker: { shutdownGraceMs: 10_000 } });
    // Only the new replica runs turns.
    await cluster.servers[0]!.close();
    const chat = await cluster.memberOn(server).createChat('steady q5', cluster.modelConfigId);
    await cluster.running(chat.id, server.replicaId);
    const closing = server.close();
    // While it drains, the replica says it is not ready, and still serves.
    const readiness = await fetch(`${server.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(((await readiness.json()) as { reasons: string[] }).reasons).toContain(
      'the replica is shutting down',
    );
    await closing;
    expect(shape(await cluster.messages(chat.id))).toEqual([
      ['user', 'steady q5', null],
      ['assistant', 'w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ', 'stop'],
    ]);
    expect((await cluster.chat(chat.id)).status).toBe('waiting');
    expect(llm.requestsFor('steady q5')).toHaveLength(1);
  });
});

describe('6. a completion whose acknowledgement was lost', () => {
  let cluster: Cluster;
  let loseNextAck = false;
  beforeAll(async () => {
    cluster = await Cluster.start({
      // The completion commits, then the connection "breaks" before its answer arrives.
      decorateStore: (store: Store): Store => ({
        ...store,
        async completeChatTurn(input) {
          const result = await store.completeChatTurn(input);
          if (loseNextAck) {
            loseNextAck = false;
            throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
          }
          return result;
        },
      }),
    });
  });
  afterAll(() => cluster?.close());

  it('still sends the final events to the stream', async () => {
    const { member, modelConfigId } = cluster;
    const chat = await member.createChat('ok q6', modelConfigId);
    await cluster.settled(chat.id, 2);
    const follower = await ChatFollower.open(member, chat.id);
    try {
      loseNextAck = true;
      await member.sendMessage(chat.id, 'ok q7');
      const state = await follower.until((s) => s.status === 'waiting' && s.messages.size === 4, 10_000);
      expect([...state.messages.values()].map((m) => m.content)).toEqual([
        'ok q6',
        'answer to ok q6',
        'ok q7',
        'answer to ok q7',
      ]);
      expect(loseNextAck).toBe(false);
    } finally {
      follower.close();
    }
  });
});

describe('7. replicas killed without a clean stop', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ worker: { staleAfterMs: 2_000 } });
  });
  afterAll(() => cluster?.close());

  it('are removed from the registry once they have missed heartbeats for the bound', async () => {
    const admin = new ChatdClient(cluster.servers[0]!.url, cluster.servers[0]!.firstAdmin!.token);
    // What a SIGKILLed replica leaves behind: its row, no longer heartbeated.
    await cluster.sql`
      INSERT INTO replicas (id, hostname, started_at, heartbeat_at)
      VALUES (gen_random_uuid(), 'killed', now() - interval '10 minutes', now() - interval '10 minutes')`;
    const listed = async () =>
      (await admin.request<{ replicas: { hostname: string }[] }>('GET', '/api/v1/chat/config/status'))
        .replicas;
    await eventually(
      async () => !(await listed()).some((r) => r.hostname === 'killed'),
      'the dead replica is gone',
      5_000,
    );
    expect(await listed()).toHaveLength(1);
  });
});

describe('8. readiness', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({}, { proxied: true });
  });
  afterAll(() => cluster?.close());

  async function readiness(): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
    const response = await fetch(`${cluster.servers[0]!.url}/readyz`);
    return {
      status: response.status,
      body: (await response.json()) as { status: string; reasons?: string[] },
    };
  }

  it('is ready while the database answers, the schema is known and the listener is connected', async () => {
    expect(await readiness()).toEqual({ status: 200, body: { status: 'ready' } });
    const health = await fetch(`${cluster.servers[0]!.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('is not ready, with reasons, while the database is unreachable', async () => {
    cluster.proxies[0]!.setMode('refuse');
    try {
      await eventually(async () => (await readiness()).status === 503, 'not ready', 10_000);
      const { body } = await readiness();
      expect(body.status).toBe('not_ready');
      expect(body.reasons!.join('\n')).toMatch(/database/);
      expect(body.reasons!.join('\n')).toMatch(/listener/);
      // Liveness is not readiness: the process is alive.
      expect((await fetch(`${cluster.servers[0]!.url}/healthz`)).status).toBe(200);
    } finally {
      cluster.proxies[0]!.setMode('forward');
    }
    await eventually(async () => (await readiness()).status === 200, 'ready again', 15_000);
  });

  it('is not ready on a schema newer than this build knows', async () => {
    await cluster.sql`INSERT INTO chatd_migrations (id, name) VALUES (9999, 'from_the_future')`;
    try {
      await eventually(async () => (await readiness()).status === 503, 'not ready', 10_000);
      expect((await readiness()).body.reasons!.join('\n')).toMatch(/schema version 9999/);
    } finally {
      await cluster.sql`DELETE FROM chatd_migrations WHERE id = 9999`;
    }
    await eventually(async () => (await readiness()).status === 200, 'ready again', 10_000);
  });
});

describe('the takeover bound', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({
      worker: { maxTakeovers: 2, completionRetryDelaysMs: [10] },
      // Every end of this chat's turns fails as if the database were unreachable.
      decorateStore: (store: Store): Store => ({
        ...store,
        async completeChatTurn(input) {
          if (input.assistant?.content.includes('poison')) {
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          }
          return store.completeChatTurn(input);
        },
      }),
    });
  });
  afterAll(() => cluster?.close());

  it('ends a turn that keeps being given back in error, and then calls the provider no more', async () => {
    const chat = await cluster.member.createChat('poison q', cluster.modelConfigId);
    await cluster.settled(chat.id, 1, 30_000);
    const row = await cluster.chat(chat.id);
    expect(row.status).toBe('error');
    expect(row.lastError).toMatch(/cut off 3 times by its replica stopping or failing/);
    const calls = llm.requestsFor('poison q').length;
    expect(calls).toBe(3);
    await sleep(3_000);
    expect(llm.requestsFor('poison q')).toHaveLength(calls);
  });
});

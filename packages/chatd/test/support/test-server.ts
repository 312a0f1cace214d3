import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { type ChatdServer, type ChatdServerOptions, startChatdServer } from '../../src/cli/chatd-server.js';
import { ChatFollower } from '../../src/scaletest/chat-follower.js';
import { ChatdClient, type MessageJson, type StreamEvent } from '../../src/scaletest/chatd-client.js';

/** One key for every test replica: replicas that share a database must share it. */
export const TEST_SECRETS_KEY = randomBytes(32);

/** Starts a full chatd replica in this process on `postgresUrl`, on a free loopback port, quiet. */
export async function startTestServer(
  postgresUrl: string,
  overrides: Partial<Omit<ChatdServerOptions, 'postgresUrl'>> = {},
): Promise<ChatdServer> {
  const cacheDir = await mkdtemp(path.join(tmpdir(), 'chatd-server-'));
  const removeCacheDir = () => rm(cacheDir, { recursive: true, force: true });
  const server = await startChatdServer({
    httpAddress: { host: '127.0.0.1', port: 0 },
    postgresUrl,
    cacheDir,
    logger: pino({ level: process.env.CHATD_TEST_LOG ?? 'silent' }, pino.destination(2)),
    secretsKey: TEST_SECRETS_KEY,
    replicaHeartbeatMs: 200,
    // A low scrypt cost keeps the first admin's password (and any login) fast; the code path is the same.
    auth: { passwords: { logN: 10 } },
    // Tests drive many chats as one user: per-user limits are tested on their own (test/http/limits.test.ts).
    api: { newChatsPerMinute: 0, messagesPerMinute: 0, maxStreamsPerUser: 10_000 },
    ...overrides,
    // Every response is checked against its documented schema (a mismatch is a logged 500).
    http: { validateResponses: true, ...overrides.http },
    worker: {
      heartbeatIntervalMs: 200,
      staleAfterMs: 2_000,
      pollIntervalMs: 500,
      partIntervalMs: 20,
      ...overrides.worker,
    },
  }).catch(async (error: unknown) => {
    await removeCacheDir();
    throw error;
  });
  // The cache directory goes with the server.
  return {
    ...server,
    async close() {
      try {
        await server.close();
      } finally {
        await removeCacheDir();
      }
    },
  };
}

/**
 * Follows a chat's stream until its status is `waiting` or `error` after `minMessages` messages, and
 * returns the messages seen (by id, in order) and the final status.
 */
export async function waitForTurn(
  client: ChatdClient,
  chatId: string,
  options: { minMessages: number; timeoutMs?: number; afterId?: number },
): Promise<{ status: string; messages: MessageJson[]; events: StreamEvent[] }> {
  const events: StreamEvent[] = [];
  const follower = await ChatFollower.open(client, chatId, (event) => events.push(event), {
    ...(options.afterId === undefined ? {} : { afterId: options.afterId }),
  });
  try {
    // On connect the stream sends the current status before the history: the condition is checked after
    // every event.
    const state = await follower.until(
      (chat) =>
        (chat.status === 'waiting' || chat.status === 'error') && chat.messages.size >= options.minMessages,
      options.timeoutMs ?? 20_000,
    );
    return {
      status: state.status,
      messages: [...state.messages.values()].sort((a, b) => a.id - b.id),
      events,
    };
  } finally {
    follower.close();
  }
}

/** Admin setup: a provider and a default model config; returns the config id. */
export async function createModel(
  admin: ChatdClient,
  input: { provider: string; model: string; baseUrl?: string; apiKey?: string; isDefault?: boolean },
): Promise<{ providerId: string; modelConfigId: string }> {
  const provider = await admin.request<{ id: string }>('POST', '/api/v1/chat/providers', {
    provider: input.provider,
    display_name: `${input.provider} ${input.model}`,
    ...(input.baseUrl ? { base_url: input.baseUrl } : {}),
    ...(input.apiKey ? { api_key: input.apiKey } : {}),
  });
  const config = await admin.request<{ id: string }>('POST', '/api/v1/chat/model-configs', {
    provider_id: provider.id,
    model: input.model,
    display_name: input.model,
    context_limit: 8192,
    is_default: input.isDefault ?? true,
  });
  return { providerId: provider.id, modelConfigId: config.id };
}

/** Creates a member through the API and returns a client for it. */
export async function createMember(
  admin: ChatdClient,
  baseUrl: string,
  username: string,
): Promise<ChatdClient> {
  const created = await admin.request<{ token: string }>('POST', '/api/v1/users', {
    username,
    role: 'member',
  });
  return new ChatdClient(baseUrl, created.token);
}

import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMeteredStore } from '../../src/db/metered-store.js';
import type { ChatModelConfigInsert } from '../../src/db/queries/chat-model-configs.js';
import { QueryStats } from '../../src/db/query-stats.js';
import { SqlState, sqlStateOf } from '../../src/db/sqlstate.js';
import { QUERY_NAMES, type Store } from '../../src/db/store.js';
import { useTestDatabase } from '../support/test-database.js';

const db = useTestDatabase();

/** Every query of the store must be exercised by this file: checked at the end. */
const stats = new QueryStats();
let store: Store;
beforeAll(() => {
  store = createMeteredStore(db.store, stats);
});
afterAll(() => {
  const untested = QUERY_NAMES.filter((name) => stats.calls(name) === 0);
  expect(untested, 'queries without a round-trip test').toEqual([]);
});

async function expectSqlState(promise: Promise<unknown>, state: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected SQLSTATE ${state}`).toBeDefined();
  expect(sqlStateOf(error)).toBe(state);
}

function modelConfig(
  providerId: string,
  overrides: Partial<ChatModelConfigInsert> = {},
): ChatModelConfigInsert {
  return {
    providerId,
    model: 'gpt-test',
    displayName: 'GPT test',
    enabled: true,
    isDefault: false,
    contextLimit: 8192,
    options: { temperature: 0.2, nested: { list: [1, 'two', null] } },
    ...overrides,
  };
}

describe('users and tokens', () => {
  it('round-trips users, counts them and finds them case-insensitively', async () => {
    const before = await store.countUsers();
    const user = await store.insertUser({ username: 'Alice', role: 'admin' });
    expect(user).toMatchObject({ username: 'Alice', role: 'admin' });
    expect(user.createdAt).toBeInstanceOf(Date);
    expect(await store.getUserById(user.id)).toEqual(user);
    expect(await store.getUserByUsername('alice')).toEqual(user);
    expect(await store.getUserByUsername('nobody')).toBeUndefined();
    expect(await store.countUsers()).toBe(before + 1);
    await expectSqlState(store.insertUser({ username: 'ALICE', role: 'member' }), SqlState.uniqueViolation);
    await expectSqlState(store.insertUser({ username: 'bad name', role: 'member' }), SqlState.checkViolation);
    await expectSqlState(
      store.insertUser({ username: 'root', role: 'owner' as never }),
      SqlState.checkViolation,
    );
  });

  it('round-trips tokens with their user and records last use', async () => {
    const user = await store.insertUser({ username: 'token-owner', role: 'member' });
    const secretHash = randomBytes(32);
    const token = await store.insertApiToken({
      userId: user.id,
      publicId: 'abc123def456',
      name: 'cli',
      secretHash,
    });
    expect(token.lastUsedAt).toBeNull();
    const found = await store.getApiTokenWithUserByPublicId('abc123def456');
    expect(found).toMatchObject({ id: token.id, userId: user.id, username: 'token-owner', role: 'member' });
    expect(Buffer.compare(found!.secretHash, secretHash)).toBe(0);
    await store.touchApiTokenLastUsed(token.id);
    const [listed] = await store.listApiTokensByUser(user.id);
    expect(listed!.lastUsedAt).toBeInstanceOf(Date);
    expect(await store.getApiTokenWithUserByPublicId('zzzzzzzzzzzz')).toBeUndefined();
    await expectSqlState(
      store.insertApiToken({ userId: user.id, publicId: 'short', name: 'x', secretHash }),
      SqlState.checkViolation,
    );
    await expectSqlState(
      store.insertApiToken({
        userId: user.id,
        publicId: 'abc123def999',
        name: 'x',
        secretHash: randomBytes(8),
      }),
      SqlState.checkViolation,
    );
  });
});

describe('people: passwords, access, sessions, login failures', () => {
  it('round-trips password hashes and access changes, pages users by username, counts enabled admins', async () => {
    const user = await store.insertUser({
      username: 'Pat',
      role: 'member',
      passwordHash: '$scrypt$ln=10,r=8,p=1$c2FsdA==$aGFzaA==',
    });
    expect(user).toMatchObject({ hasPassword: true, disabledAt: null });
    expect(await store.getUserLoginByUsername('PAT')).toMatchObject({
      id: user.id,
      passwordHash: '$scrypt$ln=10,r=8,p=1$c2FsdA==$aGFzaA==',
    });
    expect(await store.getUserLoginByUsername('nobody')).toBeUndefined();
    await expectSqlState(store.setUserPasswordHash(user.id, 'plain text'), SqlState.checkViolation);
    expect(await store.setUserPasswordHash(user.id, null)).toBe(true);
    expect(await store.getUserPasswordHash(user.id)).toEqual({ passwordHash: null });
    expect(await store.getUserPasswordHash(randomUuid())).toBeUndefined();
    expect(await store.setUserPasswordHash(randomUuid(), null)).toBe(false);

    const admins = await store.countEnabledAdmins();
    const promoted = await store.updateUserAccess(user.id, { role: 'admin' });
    expect(promoted).toMatchObject({ role: 'admin', disabledAt: null, hasPassword: false });
    expect(await store.countEnabledAdmins()).toBe(admins + 1);
    const disabled = await store.updateUserAccess(user.id, { disabled: true });
    expect(disabled!.disabledAt).toBeInstanceOf(Date);
    // Disabling again keeps the first time; the role is untouched when not given.
    const again = await store.updateUserAccess(user.id, { disabled: true });
    expect(again!.disabledAt!.getTime()).toBe(disabled!.disabledAt!.getTime());
    expect(again!.role).toBe('admin');
    expect(await store.countEnabledAdmins()).toBe(admins);
    expect((await store.updateUserAccess(user.id, { disabled: false }))!.disabledAt).toBeNull();
    expect(await store.updateUserAccess(randomUuid(), { role: 'member' })).toBeUndefined();

    for (const name of ['page-c', 'Page-A', 'page-b'])
      await store.insertUser({ username: name, role: 'member' });
    const names: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.listUsersPage({ limit: 2, afterUsername: after });
      if (page.length === 0) break;
      names.push(...page.map((u) => u.username));
      after = page.at(-1)!.username;
    }
    const pageNames = names.filter((n) => n.toLowerCase().startsWith('page-'));
    expect(pageNames).toEqual(['Page-A', 'page-b', 'page-c']);
    await store.transaction(async (tx) => tx.lockAdminChanges());
  });

  it('round-trips token expiry, counts live tokens, deletes them by owner, by id and all, filters live ones', async () => {
    const user = await store.insertUser({ username: 'token-life', role: 'member' });
    const other = await store.insertUser({ username: 'token-other', role: 'member' });
    const insert = (publicId: string, expiresAt: Date | null, owner = user.id) =>
      store.insertApiToken({
        userId: owner,
        publicId,
        name: publicId,
        secretHash: randomBytes(32),
        expiresAt,
      });
    const forever = await insert('life00000001', null);
    const soon = await insert('life00000002', new Date(Date.now() + 60_000));
    const theirs = await insert('life00000003', null, other.id);
    expect(soon.expiresAt).toBeInstanceOf(Date);
    await db.sql`UPDATE api_tokens SET created_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute' WHERE id = ${soon.id}`;
    expect(await store.countLiveApiTokensOfUser(user.id)).toBe(1);
    expect((await store.listApiTokensByUser(user.id)).map((t) => t.id)).toEqual([soon.id, forever.id]);
    expect((await store.listApiTokensByUser(user.id))[0]).not.toHaveProperty('secretHash');
    expect((await store.filterLiveApiTokens([forever.id, soon.id, theirs.id])).sort()).toEqual(
      [forever.id, theirs.id].sort(),
    );
    expect(await store.filterLiveApiTokens([])).toEqual([]);
    await store.updateUserAccess(other.id, { disabled: true });
    expect(await store.filterLiveApiTokens([theirs.id])).toEqual([]);

    expect(await store.deleteApiTokenOfUser(other.id, forever.id)).toBe(false);
    expect(await store.deleteApiTokenOfUser(user.id, forever.id)).toBe(true);
    expect(await store.deleteApiTokenById(theirs.id)).toEqual({ userId: other.id });
    expect(await store.deleteApiTokenById(theirs.id)).toBeUndefined();
    expect(await store.deleteApiTokensOfUser(user.id)).toBe(1);
    await expectSqlState(insert('life00000004', new Date(Date.now() - 1000)), SqlState.checkViolation);
  });

  it('round-trips sessions: insert, find with user, touch, filter live, delete one, all but one, expired', async () => {
    const user = await store.insertUser({ username: 'session-owner', role: 'member' });
    const insert = (publicId: string) =>
      store.insertUserSession({
        userId: user.id,
        publicId,
        secretHash: randomBytes(32),
        expiresAt: new Date(Date.now() + 86_400_000),
        userAgent: 'test',
      });
    const one = await insert('sess00000001');
    const two = await insert('sess00000002');
    const three = await insert('sess00000003');
    const found = await store.getUserSessionWithUserByPublicId('sess00000001');
    expect(found).toMatchObject({ id: one.id, userId: user.id, username: 'session-owner', disabledAt: null });
    expect(await store.getUserSessionWithUserByPublicId('zzzzzzzzzzzz')).toBeUndefined();
    await db.sql`UPDATE user_sessions SET last_seen_at = now() - interval '1 hour' WHERE id = ${one.id}`;
    await store.touchUserSession(one.id);
    const touched = await store.getUserSessionWithUserByPublicId('sess00000001');
    expect(Date.now() - touched!.lastSeenAt.getTime()).toBeLessThan(60_000);
    await db.sql`UPDATE user_sessions SET last_seen_at = now() - interval '2 hours' WHERE id = ${three.id}`;
    expect((await store.filterLiveUserSessions([one.id, two.id, three.id], 3_600_000)).sort()).toEqual(
      [one.id, two.id].sort(),
    );
    expect(await store.filterLiveUserSessions([], 1000)).toEqual([]);
    expect(await store.deleteExpiredUserSessions(3_600_000)).toBeGreaterThanOrEqual(1);
    expect(await store.deleteUserSessionsOfUser(user.id, one.id)).toBe(1);
    expect(await store.deleteUserSession(one.id)).toBe(true);
    expect(await store.deleteUserSession(one.id)).toBe(false);
    expect(await store.deleteUserSessionsOfUser(user.id)).toBe(0);
  });

  it('counts login failures per key in a window that restarts once closed', async () => {
    const keys = ['user:counted', 'addr:192.0.2.1'];
    expect(await store.getLoginFailures(keys, 60_000)).toEqual([]);
    await store.recordLoginFailures(keys, 60_000);
    await store.recordLoginFailures(keys, 60_000);
    const counted = await store.getLoginFailures(keys, 60_000);
    expect(counted.map((row) => [row.key, row.failures]).sort()).toEqual([
      ['addr:192.0.2.1', 2],
      ['user:counted', 2],
    ]);
    // A closed window is not reported, and the next failure starts it again at 1.
    await db.sql`UPDATE login_failures SET window_start = now() - interval '2 minutes' WHERE key = 'user:counted'`;
    expect((await store.getLoginFailures(keys, 60_000)).map((row) => row.key)).toEqual(['addr:192.0.2.1']);
    await store.recordLoginFailures(['user:counted'], 60_000);
    expect((await store.getLoginFailures(['user:counted'], 60_000))[0]!.failures).toBe(1);
    await store.clearLoginFailures('user:counted');
    expect(await store.getLoginFailures(['user:counted'], 60_000)).toEqual([]);
    await db.sql`UPDATE login_failures SET window_start = now() - interval '2 minutes'`;
    expect(await store.deleteStaleLoginFailures(60_000)).toBeGreaterThanOrEqual(1);
  });
});

function randomUuid(): string {
  return crypto.randomUUID();
}

describe('providers and model configs', () => {
  it('round-trips providers and filters the enabled ones', async () => {
    const key = randomBytes(40);
    const a = await store.insertChatProvider({
      provider: 'openai-compat',
      displayName: 'Local',
      apiKeyEncrypted: key,
      baseUrl: 'http://127.0.0.1:1234/v1',
      enabled: true,
    });
    const b = await store.insertChatProvider({
      provider: 'builtin',
      displayName: 'Builtin',
      apiKeyEncrypted: null,
      baseUrl: null,
      enabled: false,
    });
    expect(Buffer.compare((await store.getChatProviderById(a.id))!.apiKeyEncrypted!, key)).toBe(0);
    expect((await store.listChatProviders()).map((p) => p.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    const enabled = await store.getEnabledChatProviders();
    expect(enabled.map((p) => p.id)).toContain(a.id);
    expect(enabled.map((p) => p.id)).not.toContain(b.id);

    const updated = await store.updateChatProvider(b.id, { enabled: true, displayName: 'Builtin 2' });
    expect(updated).toMatchObject({ enabled: true, displayName: 'Builtin 2', provider: 'builtin' });
    expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(b.updatedAt.getTime());
    expect(
      await store.updateChatProvider('00000000-0000-0000-0000-000000000000', { enabled: false }),
    ).toBeUndefined();

    const rekinded = await store.updateChatProvider(b.id, { provider: 'anthropic' });
    expect(rekinded).toMatchObject({ provider: 'anthropic', displayName: 'Builtin 2' });

    // The lock holds the row until the transaction ends: a concurrent update waits for it.
    const order: string[] = [];
    let concurrent: Promise<unknown> | undefined;
    await store.transaction(async (tx) => {
      expect(await tx.lockChatProviderById(b.id)).toMatchObject({ id: b.id, provider: 'anthropic' });
      expect(await tx.lockChatProviderById('00000000-0000-0000-0000-000000000000')).toBeUndefined();
      concurrent = store.updateChatProvider(b.id, { displayName: 'After' }).then(() => order.push('update'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      order.push('commit');
    });
    await concurrent;
    expect(order).toEqual(['commit', 'update']);

    expect(await store.deleteChatProvider(b.id)).toBe(true);
    expect(await store.deleteChatProvider(b.id)).toBe(false);
    expect(await store.getChatProviderById(b.id)).toBeUndefined();

    await expectSqlState(
      store.insertChatProvider({
        provider: 'openai-compat',
        displayName: 'x',
        apiKeyEncrypted: null,
        baseUrl: null,
        enabled: true,
      }),
      SqlState.checkViolation,
    );
    await expectSqlState(
      store.insertChatProvider({
        provider: 'mystery' as never,
        displayName: 'x',
        apiKeyEncrypted: null,
        baseUrl: null,
        enabled: true,
      }),
      SqlState.checkViolation,
    );
  });

  it('round-trips model configs, one default, soft delete', async () => {
    const provider = await store.insertChatProvider({
      provider: 'builtin',
      displayName: 'Builtin',
      apiKeyEncrypted: null,
      baseUrl: null,
      enabled: true,
    });
    const first = await store.insertChatModelConfig(modelConfig(provider.id, { isDefault: true }));
    expect(first.options).toEqual({ temperature: 0.2, nested: { list: [1, 'two', null] } });
    expect(await store.getChatModelConfigById(first.id)).toEqual(first);
    expect((await store.getDefaultChatModelConfig())?.id).toBe(first.id);

    // The database, not the application, refuses a second default.
    await expectSqlState(
      store.insertChatModelConfig(modelConfig(provider.id, { isDefault: true })),
      SqlState.uniqueViolation,
    );
    await expectSqlState(
      store.insertChatModelConfig(modelConfig(provider.id, { contextLimit: 0 })),
      SqlState.checkViolation,
    );
    await expectSqlState(
      store.insertChatModelConfig(modelConfig(provider.id, { options: [1, 2] as never })),
      SqlState.checkViolation,
    );

    const second = await store.insertChatModelConfig(
      modelConfig(provider.id, { enabled: false, model: 'other' }),
    );
    expect((await store.listChatModelConfigs({ includeDisabled: false })).map((c) => c.id)).not.toContain(
      second.id,
    );
    expect((await store.listChatModelConfigs({ includeDisabled: true })).map((c) => c.id)).toContain(
      second.id,
    );

    // Moving the default is two statements in one transaction.
    await store.transaction(async (tx) => {
      await tx.clearDefaultChatModelConfig();
      await tx.updateChatModelConfig(second.id, { isDefault: true });
    });
    expect((await store.getDefaultChatModelConfig())?.id).toBe(second.id);
    await expectSqlState(
      store.updateChatModelConfig(first.id, { isDefault: true }),
      SqlState.uniqueViolation,
    );
    const patched = await store.updateChatModelConfig(first.id, { contextLimit: 100, options: { top_p: 1 } });
    expect(patched).toMatchObject({ contextLimit: 100, options: { top_p: 1 }, isDefault: false });

    expect(await store.softDeleteChatModelConfig(second.id)).toBe(true);
    expect(await store.softDeleteChatModelConfig(second.id)).toBe(false);
    expect(await store.getChatModelConfigById(second.id)).toBeUndefined();
    expect(await store.getDefaultChatModelConfig()).toBeUndefined();
    expect(await store.updateChatModelConfig(second.id, { enabled: true })).toBeUndefined();
    // A deleted default no longer blocks a new one.
    const third = await store.insertChatModelConfig(modelConfig(provider.id, { isDefault: true }));
    expect((await store.getDefaultChatModelConfig())?.id).toBe(third.id);
  });
});

describe('prompts', () => {
  it('round-trips user prompts and the system prompt', async () => {
    const user = await store.insertUser({ username: 'prompted', role: 'member' });
    expect(await store.getUserChatPrompt(user.id)).toBeUndefined();
    await store.upsertUserChatPrompt(user.id, 'Be brief.');
    await store.upsertUserChatPrompt(user.id, 'Be very brief.');
    expect(await store.getUserChatPrompt(user.id)).toMatchObject({
      userId: user.id,
      customPrompt: 'Be very brief.',
    });
    await expectSqlState(store.upsertUserChatPrompt(user.id, 'x'.repeat(131_073)), SqlState.checkViolation);

    expect(await store.getSystemPrompt()).toBe('');
    await store.setSystemPrompt('You are chatd.');
    expect(await store.getSystemPrompt()).toBe('You are chatd.');
  });
});

describe('chats, messages and queues', () => {
  it('round-trips chats, messages and queued messages', async () => {
    const owner = await store.insertUser({ username: 'chatter', role: 'member' });
    const chat = await store.insertChat({
      ownerId: owner.id,
      title: 'Hello',
      status: 'pending',
      modelConfigId: null,
    });
    expect(chat).toMatchObject({ status: 'pending', archived: false, workerId: null });
    expect(await store.getChatById(chat.id)).toEqual(chat);

    const m1 = await store.insertChatMessage({
      chatId: chat.id,
      role: 'user',
      content: 'hi',
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
    });
    const m2 = await store.insertChatMessage({
      chatId: chat.id,
      role: 'assistant',
      content: 'hello',
      modelConfigId: null,
      inputTokens: 3,
      outputTokens: 5,
    });
    expect(typeof m1.id).toBe('number');
    expect((await store.listChatMessages(chat.id)).map((m) => m.id)).toEqual([m1.id, m2.id]);
    expect((await store.listChatMessages(chat.id, m1.id)).map((m) => m.content)).toEqual(['hello']);

    const q1 = await store.insertQueuedMessage({ chatId: chat.id, content: 'next' });
    const q2 = await store.insertQueuedMessage({ chatId: chat.id, content: 'after' });
    expect((await store.listQueuedMessages(chat.id)).map((q) => q.id)).toEqual([q1.id, q2.id]);
    expect((await store.getChatById(chat.id))?.queuedMessages).toBe(2);

    expect(await store.setChatArchived(chat.id, true)).toBe(true);
    const page = { ownerId: owner.id, after: null, limit: 10 };
    expect(await store.listOwnerChatsPage({ ...page, archived: false })).toEqual({ chats: [], next: null });
    const archived = await store.listOwnerChatsPage({ ...page, archived: true });
    expect(archived).toEqual({
      chats: [{ ...chat, archived: true, queuedMessages: 2, updatedAt: expect.any(Date) }],
      next: null,
    });
    expect((await store.listOwnerChatsPage({ ...page, archived: null })).chats.map((c) => c.id)).toEqual([
      chat.id,
    ]);
    expect(
      (await store.searchOwnerChatsPage({ ...page, archived: null, query: 'hello' })).chats.map((c) => c.id),
    ).toEqual([chat.id]);
    expect((await store.searchOwnerChatsPage({ ...page, archived: null, query: 'nothing' })).chats).toEqual(
      [],
    );

    // Pages of messages: the newest first page, then older ones; batches after an id.
    const newest = await store.listChatMessagesPage({ chatId: chat.id, beforeId: null, limit: 1 });
    expect(newest).toEqual({ messages: [m2], nextBeforeId: m2.id });
    expect(await store.listChatMessagesPage({ chatId: chat.id, beforeId: m2.id, limit: 1 })).toEqual({
      messages: [m1],
      nextBeforeId: null,
    });
    expect(await store.listChatMessagesAfter({ chatId: chat.id, afterId: 0, limit: 1 })).toEqual([m1]);
    expect(await store.listChatMessagesAfter({ chatId: chat.id, afterId: m1.id, limit: 5 })).toEqual([m2]);

    // A stream's snapshot: the owner's chat with the newest messages, or the batch after an id.
    const snapshot = { chatId: chat.id, ownerId: owner.id, newest: 1, batch: 5 };
    const current = await store.getChatById(chat.id);
    expect(await store.getChatStreamSnapshot({ ...snapshot, afterId: 0 })).toEqual({
      chat: current,
      messages: [m2],
      resumedAt: null,
    });
    expect(await store.getChatStreamSnapshot({ ...snapshot, afterId: m1.id })).toEqual({
      chat: current,
      messages: [m2],
      resumedAt: null,
    });
    expect(
      await store.getChatStreamSnapshot({ ...snapshot, afterId: 0, ownerId: randomUuid() }),
    ).toBeUndefined();
    // Resuming past the last truncation: everything after it again, and where it was.
    await db.sql`UPDATE chats SET history_truncated_after = ${m1.id} WHERE id = ${chat.id}`;
    expect(await store.getChatStreamSnapshot({ ...snapshot, afterId: m2.id + 10 })).toMatchObject({
      messages: [m2],
      resumedAt: m1.id,
    });
    expect(await store.getChatStreamSnapshot({ ...snapshot, afterId: m1.id })).toMatchObject({
      resumedAt: null,
    });
    await db.sql`UPDATE chats SET history_truncated_after = NULL WHERE id = ${chat.id}`;

    // Deleting takes the messages and the queue with the chat; only the owner's chat is deleted.
    expect(await store.deleteOwnedChat({ chatId: chat.id, ownerId: randomUuid() })).toBeUndefined();
    expect(await store.deleteOwnedChat({ chatId: chat.id, ownerId: owner.id })).toEqual({
      status: 'pending',
      statusVersion: 1,
    });
    expect(await store.getChatById(chat.id)).toBeUndefined();
    expect(await store.listChatMessages(chat.id)).toEqual([]);
    expect(await store.listQueuedMessages(chat.id)).toEqual([]);
    expect(await store.getTurnEnd(chat.id, randomUuid())).toBeUndefined();

    // A running chat must name its worker and heartbeat.
    await expectSqlState(
      store.insertChat({ ownerId: owner.id, title: 'x', status: 'running' as never, modelConfigId: null }),
      SqlState.checkViolation,
    );
  });
});

describe('paging and deleting chats', () => {
  it('pages by (updated_at, id) with exact microsecond keys, ties included', async () => {
    const owner = await store.insertUser({ username: 'pager', role: 'member' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const chat = await store.insertChat({
        ownerId: owner.id,
        title: `p${i}`,
        status: 'waiting',
        modelConfigId: null,
      });
      ids.push(chat.id);
    }
    // Two chats share an instant whose microseconds a JS Date would lose; the id breaks the tie.
    await db.sql`UPDATE chats SET updated_at = '2024-05-01 10:00:00.123456+00' WHERE id IN ${db.sql([ids[0]!, ids[1]!])}`;
    await db.sql`UPDATE chats SET updated_at = '2024-05-01 10:00:00.123457+00' WHERE id = ${ids[2]!}`;
    const seen: string[] = [];
    const keys: (string | undefined)[] = [];
    let after = null;
    do {
      const page = await store.listOwnerChatsPage({ ownerId: owner.id, archived: false, after, limit: 1 });
      seen.push(...page.chats.map((chat) => chat.id));
      keys.push(page.next?.updatedAt);
      after = page.next;
    } while (after);
    const tied = [ids[0]!, ids[1]!].sort().reverse();
    expect(seen).toEqual([ids[2], ...tied]);
    expect(keys).toEqual(['2024-05-01T10:00:00.123457Z', '2024-05-01T10:00:00.123456Z', undefined]);
    // Not left for the retention test below, which deletes every chat idle that long.
    for (const id of ids) await store.deleteOwnedChat({ chatId: id, ownerId: owner.id });
  });

  it('deletes idle chats in batches, under a lock one transaction at a time holds', async () => {
    const owner = await store.insertUser({ username: 'idler', role: 'member' });
    const chat = (status: 'waiting' | 'error' | 'pending') =>
      store.insertChat({ ownerId: owner.id, title: status, status, modelConfigId: null });
    const idle = [await chat('waiting'), await chat('error'), await chat('waiting')];
    const pending = await chat('pending');
    await db.sql`UPDATE chats SET updated_at = now() - interval '2 hours' WHERE owner_id = ${owner.id}`;
    const recent = await chat('waiting');
    const deleted = await store.transaction(async (tx) => {
      expect(await tx.tryChatRetentionLock()).toBe(true);
      // Another session cannot take it until this transaction ends.
      expect(await store.transaction((other) => other.tryChatRetentionLock())).toBe(false);
      return tx.deleteIdleChats({ idleForMs: 3_600_000, limit: 2 });
    });
    expect(deleted).toHaveLength(2);
    expect(await store.transaction((tx) => tx.tryChatRetentionLock())).toBe(true);
    const rest = await store.deleteIdleChats({ idleForMs: 3_600_000, limit: 2 });
    expect([...deleted, ...rest].sort()).toEqual(idle.map((c) => c.id).sort());
    expect(await store.deleteIdleChats({ idleForMs: 3_600_000, limit: 2 })).toEqual([]);
    expect(await store.getChatById(pending.id)).toBeDefined();
    expect(await store.getChatById(recent.id)).toBeDefined();
  });
});

describe('the chat lifecycle queries', () => {
  const workerA = '22222222-2222-4222-8222-222222222222';
  const workerB = '33333333-3333-4333-8333-333333333333';

  it('creates, acquires once, heartbeats, completes only with the current claim, and promotes queued messages', async () => {
    const owner = await store.insertUser({ username: 'lifecycle', role: 'member' });
    const { chat, message } = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'lifecycle',
      modelConfigId: null,
      content: 'first question',
    });
    expect(chat).toMatchObject({
      status: 'pending',
      ownerId: owner.id,
      title: 'lifecycle',
      queuedMessages: 0,
    });
    expect(message).toMatchObject({ chatId: chat.id, role: 'user', content: 'first question' });
    expect((await store.listChatMessages(chat.id)).map((m) => m.id)).toEqual([message.id]);

    // Two workers race for it: exactly one gets it, with a claim.
    const [mine, theirs] = await Promise.all([
      store.acquirePendingChats(workerA, 100),
      store.acquirePendingChats(workerB, 100),
    ]);
    const acquired = [...mine, ...theirs].filter((c) => c.id === chat.id);
    expect(acquired).toHaveLength(1);
    const claim = acquired[0]!.claimId!;
    expect(acquired[0]).toMatchObject({ status: 'running', claimId: expect.any(String) });
    // The heartbeat names live claims: it refreshes this one, and says a stranger's is not held.
    const stranger = '44444444-4444-4444-8444-444444444444';
    expect(await store.heartbeatChatClaims([claim, stranger])).toEqual([
      { claimId: claim, interruptRequested: false },
    ]);

    // Messages sent meanwhile are queued and counted on the chat.
    expect(
      await store.appendUserMessageIfIdle({ chatId: chat.id, ownerId: owner.id, content: 'no' }),
    ).toBeUndefined();
    await store.insertQueuedMessage({ chatId: chat.id, content: 'queued question' });
    expect((await store.getChatById(chat.id))?.queuedMessages).toBe(1);

    // Only the current claim may complete it.
    const assistant = {
      content: 'first answer',
      finishReason: 'stop' as const,
      replyTo: message.id,
      modelConfigId: null,
      inputTokens: 5,
      outputTokens: 7,
    };
    expect(
      await store.completeChatTurn({ chatId: chat.id, claimId: stranger, assistant, lastError: null }),
    ).toBeUndefined();
    // A turn of another claim promotes nothing.
    expect(await store.promoteNextQueuedMessage(chat.id, stranger)).toBeUndefined();
    const done = await store.completeChatTurn({
      chatId: chat.id,
      claimId: claim,
      assistant,
      lastError: null,
    });
    expect(done?.status).toBe('pending'); // a message is queued
    expect(done?.message).toMatchObject({
      role: 'assistant',
      content: 'first answer',
      finishReason: 'stop',
      replyTo: message.id,
      inputTokens: 5,
      outputTokens: 7,
    });
    // The claim that wrote it finds it (a lost acknowledgement).
    expect(await store.getTurnEnd(chat.id, claim)).toMatchObject({
      status: 'pending',
      message: { id: done!.message!.id, content: 'first answer' },
    });
    expect(
      await store.completeChatTurn({ chatId: chat.id, claimId: claim, assistant, lastError: null }),
    ).toBeUndefined();

    // The next turn promotes the queued message.
    const [again] = (await store.acquirePendingChats(workerA, 100)).filter((c) => c.id === chat.id);
    expect(again?.claimId).not.toBe(claim);
    const promoted = await store.promoteNextQueuedMessage(chat.id, again!.claimId!);
    expect(promoted).toMatchObject({ role: 'user', content: 'queued question' });
    expect(promoted!.id).toBeGreaterThan(done!.message!.id);
    expect(await store.promoteNextQueuedMessage(chat.id, again!.claimId!)).toBeUndefined();
    expect(await store.listQueuedMessages(chat.id)).toEqual([]);
    expect((await store.getChatById(chat.id))?.queuedMessages).toBe(0);

    // An error ends the turn in `error` with its message (here without an assistant message).
    const failed = await store.completeChatTurn({
      chatId: chat.id,
      claimId: again!.claimId!,
      assistant: null,
      lastError: 'boom',
    });
    expect(failed).toEqual({
      status: 'error',
      statusVersion: expect.any(Number),
      message: null,
      titleWritten: false,
    });
    expect(await store.getChatById(chat.id)).toMatchObject({
      lastError: 'boom',
      claimId: null,
      workerId: null,
    });
    // Only a chat in error is retried, and only by its owner; the error is cleared.
    const errorVersion = (await store.getChatById(chat.id))!.statusVersion;
    const outsider = '55555555-5555-4555-8555-555555555555';
    expect(await store.retryChat({ chatId: chat.id, ownerId: outsider })).toBeUndefined();
    expect(await store.retryChat({ chatId: chat.id, ownerId: owner.id })).toBe(errorVersion + 1);
    expect(await store.retryChat({ chatId: chat.id, ownerId: owner.id })).toBeUndefined();
    const [retried] = (await store.acquirePendingChats(workerA, 100)).filter((c) => c.id === chat.id);
    await store.completeChatTurn({
      chatId: chat.id,
      claimId: retried!.claimId!,
      assistant: null,
      lastError: null,
    });
    expect(await store.getChatById(chat.id)).toMatchObject({ status: 'waiting', lastError: null });

    // An idle chat takes a message in one statement; a stranger's cannot.
    const other = await store.insertUser({ username: 'lifecycle-stranger', role: 'member' });
    expect(
      await store.appendUserMessageIfIdle({ chatId: chat.id, ownerId: other.id, content: 'not mine' }),
    ).toBeUndefined();
    const appended = await store.appendUserMessageIfIdle({
      chatId: chat.id,
      ownerId: owner.id,
      content: 'again',
    });
    expect(appended).toMatchObject({ role: 'user', content: 'again' });
    // An interrupt is recorded for the turn of one running version: pending now, running once claimed.
    const pendingVersion = (await store.getChatById(chat.id))!.statusVersion;
    expect(await store.requestChatInterrupt(chat.id, pendingVersion)).toBeUndefined();
    expect(await store.requestChatInterrupt(chat.id, pendingVersion + 1)).toBe('pending');
    const [interrupted] = (await store.acquirePendingChats(workerA, 100)).filter((c) => c.id === chat.id);
    expect(interrupted).toMatchObject({ interruptRequested: true, statusVersion: pendingVersion + 1 });
    expect(await store.requestChatInterrupt(chat.id, pendingVersion + 1)).toBe('running');
    expect(await store.heartbeatChatClaims([interrupted!.claimId!])).toEqual([
      { claimId: interrupted!.claimId!, interruptRequested: true },
    ]);
    await store.completeChatTurn({
      chatId: chat.id,
      claimId: interrupted!.claimId!,
      assistant: { ...assistant, content: '', finishReason: 'interrupted', replyTo: appended!.id },
      lastError: null,
    });
    expect(await store.getChatById(chat.id)).toMatchObject({ status: 'waiting', interruptRequested: false });

    // An idle chat with a queue does not take messages past it; the locking path queues and wakes it.
    await store.insertQueuedMessage({ chatId: chat.id, content: 'left in the queue' });
    expect(
      await store.appendUserMessageIfIdle({ chatId: chat.id, ownerId: owner.id, content: 'jump' }),
    ).toBeUndefined();
    await store.transaction(async (tx) => {
      const locked = await tx.getChatByIdForUpdate(chat.id);
      expect(locked).toMatchObject({ status: 'waiting', queuedMessages: 1 });
      await tx.insertQueuedMessage({ chatId: chat.id, content: 'behind it', markPending: true });
    });
    expect(await store.getChatById(chat.id)).toMatchObject({ status: 'pending', queuedMessages: 2 });

    // The locking path for an idle chat without a queue appends and marks it pending.
    const fresh = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'x',
      modelConfigId: null,
      content: 'x',
    });
    const [claimed] = (await store.acquirePendingChats(workerA, 100)).filter((c) => c.id === fresh.chat.id);
    await store.completeChatTurn({
      chatId: fresh.chat.id,
      claimId: claimed!.claimId!,
      assistant: null,
      lastError: null,
    });
    await store.transaction(async (tx) => {
      await tx.getChatByIdForUpdate(fresh.chat.id);
      await tx.appendUserMessageAndMarkPending(fresh.chat.id, 'locked path');
    });
    expect((await store.getChatById(fresh.chat.id))?.status).toBe('pending');
  });

  it('never strands a message queued while a turn ends (the end re-reads the locked row)', async () => {
    const owner = await store.insertUser({ username: 'race-owner', role: 'member' });
    const { chat } = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'race',
      modelConfigId: null,
      content: 'q',
    });
    const [running] = (await store.acquirePendingChats(workerA, 1000)).filter((c) => c.id === chat.id);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    // A send on the locking path: holds the chat row while it queues a message.
    const send = store.transaction(async (tx) => {
      await tx.getChatByIdForUpdate(chat.id);
      await tx.insertQueuedMessage({ chatId: chat.id, content: 'sent during the end of the turn' });
      locked();
      await held;
    });
    await lockTaken;
    const end = store.completeChatTurn({
      chatId: chat.id,
      claimId: running!.claimId!,
      assistant: {
        content: 'a',
        finishReason: 'stop',
        replyTo: 1,
        modelConfigId: null,
        inputTokens: null,
        outputTokens: null,
      },
      lastError: null,
    });
    // The end of the turn now waits for the row lock.
    for (;;) {
      const [row] = await db.sql<[{ waiting: number }]>`
        SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted`;
      if (row.waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    release();
    await send;
    expect((await end)?.status).toBe('pending');
  });

  it('releases the chats of a stopping worker, and of a worker that stopped heartbeating', async () => {
    const owner = await store.insertUser({ username: 'released', role: 'member' });
    const first = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'a',
      modelConfigId: null,
      content: 'a',
    });
    const second = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'b',
      modelConfigId: null,
      content: 'b',
    });
    const ids = [first.chat.id, second.chat.id];
    const acquired = (await store.acquirePendingChats(workerA, 100)).map((c) => c.id);
    expect(acquired).toEqual(expect.arrayContaining(ids));

    const ids_ = (chats: { id: string }[]) => chats.map((c) => c.id);
    expect(ids_(await store.releaseWorkerChats(workerA, 3))).toEqual(expect.arrayContaining(ids));
    expect(await store.getChatById(first.chat.id)).toMatchObject({ status: 'pending', claimId: null });

    await store.acquirePendingChats(workerB, 100);
    expect(await store.releaseStaleRunningChats(60_000, 3)).toEqual([]);
    await db.sql`UPDATE chats SET heartbeat_at = now() - interval '2 minutes' WHERE worker_id = ${workerB}`;
    expect(ids_(await store.releaseStaleRunningChats(60_000, 3))).toEqual(expect.arrayContaining(ids));
    expect(await store.getChatById(second.chat.id)).toMatchObject({
      workerId: null,
      claimId: null,
      turnTakeovers: 2,
    });

    // Past the bound, a takeover ends the turn in error instead of running it again.
    await store.acquirePendingChats(workerB, 100);
    await db.sql`UPDATE chats SET heartbeat_at = now() - interval '2 minutes' WHERE worker_id = ${workerB}`;
    const ended = (await store.releaseStaleRunningChats(60_000, 2)).find((c) => c.id === second.chat.id);
    expect(ended).toMatchObject({ status: 'error', lastError: expect.stringMatching(/cut off 3 times/) });
    expect(await store.getChatById(second.chat.id)).toMatchObject({ status: 'error', turnTakeovers: 0 });
  });
});

describe('titles, usage and history edits', () => {
  it('writes a generated title with the turn end or on its own, once, unless renamed meanwhile', async () => {
    const owner = await store.insertUser({ username: 'titled', role: 'member' });
    const worker = '77777777-7777-4777-8777-777777777777';
    const first = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'provisional',
      modelConfigId: null,
      content: 'the first message',
      claimFor: worker,
    });
    const chat = first.chat;
    expect(chat.titleState).toBe('pending');
    const answer = (claimId: string, replyTo: number) => ({
      chatId: chat.id,
      claimId,
      assistant: {
        content: 'an answer',
        finishReason: 'stop' as const,
        replyTo,
        modelConfigId: null,
        inputTokens: null,
        outputTokens: null,
      },
      lastError: null,
    });
    // With the end of the turn, in its statement.
    const ended = await store.completeChatTurn({
      ...answer(chat.claimId!, first.message.id),
      title: { value: 'Generated' },
    });
    expect(ended).toMatchObject({ status: 'waiting', titleWritten: true });
    expect(await store.getChatById(chat.id)).toMatchObject({ title: 'Generated', titleState: 'generated' });
    // Never twice: neither with a later end nor on its own.
    const next = await store.appendUserMessageIfIdle({
      chatId: chat.id,
      ownerId: owner.id,
      content: 'more',
      claimFor: worker,
    });
    const again = await store.completeChatTurn({
      ...answer(next!.claimed!.chat.claimId!, next!.id),
      title: { value: 'Again' },
    });
    expect(again).toMatchObject({ titleWritten: false });
    expect(await store.saveGeneratedTitle(chat.id, 'Again')).toBe(false);
    expect((await store.getChatById(chat.id))!.title).toBe('Generated');

    // A failed generation (null) keeps the provisional title, and is not tried again.
    const { chat: failed } = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'provisional',
      modelConfigId: null,
      content: 'y',
    });
    expect(await store.saveGeneratedTitle(failed.id, null)).toBe(true);
    expect(await store.getChatById(failed.id)).toMatchObject({
      title: 'provisional',
      titleState: 'generated',
    });

    // On its own, after the turn; a rename meanwhile wins.
    const { chat: second } = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'provisional',
      modelConfigId: null,
      content: 'x',
    });
    expect(await store.renameChat({ chatId: second.id, ownerId: owner.id, title: 'Mine' })).toMatchObject({
      title: 'Mine',
      titleState: 'user',
    });
    expect(await store.saveGeneratedTitle(second.id, 'Generated')).toBe(false);
    expect((await store.getChatById(second.id))!.title).toBe('Mine');
    expect(
      await store.renameChat({ chatId: second.id, ownerId: randomUuid(), title: 'Theirs' }),
    ).toBeUndefined();
  });

  it('reports usage by user and by model config over a range of days', async () => {
    const user = await store.insertUser({ username: 'spender', role: 'member' });
    await db.sql`
      INSERT INTO chat_usage_daily (day, user_id, model_config_id, input_tokens, output_tokens, turns) VALUES
        ('2026-03-01', ${user.id}, NULL, 10, 20, 1),
        ('2026-03-02', ${user.id}, NULL, 5, 5, 2),
        ('2026-04-01', ${user.id}, NULL, 100, 100, 1)`;
    const march = await store.getUsageReport({ from: '2026-03-01', to: '2026-03-31', groupBy: 'user' });
    expect(march).toEqual([{ key: user.id, name: 'spender', inputTokens: 15, outputTokens: 25, turns: 3 }]);
    const byModel = await store.getUsageReport({
      from: '2026-03-02',
      to: '2026-04-01',
      groupBy: 'model_config',
    });
    expect(byModel).toEqual([{ key: null, name: null, inputTokens: 105, outputTokens: 105, turns: 3 }]);
    await expectSqlState(
      db.sql`INSERT INTO chat_usage_daily (day, user_id, model_config_id) VALUES ('2026-03-01', ${user.id}, NULL)`,
      SqlState.uniqueViolation,
    );
  });

  it('finds a message role and the trailing answer, and restarts a chat from a message', async () => {
    const owner = await store.insertUser({ username: 'editor', role: 'member' });
    const chat = await store.insertChat({
      ownerId: owner.id,
      title: 't',
      status: 'waiting',
      modelConfigId: null,
    });
    const ids: number[] = [];
    for (const [role, content] of [
      ['user', 'q1'],
      ['assistant', 'a1'],
      ['user', 'q2'],
      ['assistant', 'a2'],
    ] as const) {
      const [row] = await db.sql<[{ id: number }]>`
        INSERT INTO chat_messages (chat_id, role, content) VALUES (${chat.id}, ${role}, ${content}) RETURNING id`;
      ids.push(row.id);
    }
    expect(await store.getChatMessageRole({ chatId: chat.id, messageId: ids[1]! })).toBe('assistant');
    expect(await store.getChatMessageRole({ chatId: randomUuid(), messageId: ids[1]! })).toBeUndefined();
    expect(await store.getTrailingAnswerStart(chat.id)).toBe(ids[3]);
    await db.sql`INSERT INTO chat_queued_messages (chat_id, content) VALUES (${chat.id}, 'later')`;
    await db.sql`UPDATE chats SET queued_messages = 1 WHERE id = ${chat.id}`;

    const kept = await store.restartChatFrom({
      chatId: chat.id,
      fromMessageId: ids[3]!,
      content: null,
      clearQueue: false,
    });
    expect(kept).toMatchObject({ truncatedAfter: ids[2], message: null });
    expect((await store.getChatById(chat.id))!).toMatchObject({
      status: 'pending',
      queuedMessages: 1,
      historyTruncatedAfter: ids[2],
    });
    expect(await store.getTrailingAnswerStart(chat.id)).toBeUndefined();

    const edited = await store.restartChatFrom({
      chatId: chat.id,
      fromMessageId: ids[0]!,
      content: 'q1 again',
      clearQueue: true,
    });
    expect(edited.truncatedAfter).toBe(0);
    expect(edited.message).toMatchObject({ role: 'user', content: 'q1 again' });
    expect((await store.listChatMessages(chat.id)).map((m) => m.content)).toEqual(['q1 again']);
    expect(await store.listQueuedMessages(chat.id)).toEqual([]);
    expect((await store.getChatById(chat.id))!.queuedMessages).toBe(0);
    // Nothing to remove: the truncation mark stays where it was.
    const nothing = await store.restartChatFrom({
      chatId: chat.id,
      fromMessageId: Number.MAX_SAFE_INTEGER,
      content: null,
      clearQueue: false,
    });
    expect(nothing.truncatedAfter).toBeNull();
    expect((await store.getChatById(chat.id))!.historyTruncatedAfter).toBe(0);
  });
});

describe('schema version', () => {
  it('is the newest migration applied', async () => {
    const [row] = await db.sql<[{ latest: number }]>`SELECT max(id) AS latest FROM chatd_migrations`;
    expect(await store.getSchemaVersion()).toBe(row.latest);
    expect(row.latest).toBeGreaterThanOrEqual(6);
  });

  it('names the newer migrations that are not expand steps', async () => {
    const latest = await store.getSchemaVersion();
    expect(await store.getSchemaState(latest)).toEqual({ version: latest, newerNotExpand: [] });
    await db.sql`INSERT INTO chatd_migrations (id, name, expand) VALUES (9001, 'expand', true), (9002, 'contract', false)`;
    try {
      expect(await store.getSchemaState(latest)).toEqual({ version: 9002, newerNotExpand: [9002] });
      expect(await store.getSchemaState(9002)).toEqual({ version: 9002, newerNotExpand: [] });
    } finally {
      await db.sql`DELETE FROM chatd_migrations WHERE id > 9000`;
    }
  });
});

describe('notification queue', () => {
  it('reads the usage as a fraction', async () => {
    const usage = await store.getNotificationQueueUsage();
    expect(usage).toBeGreaterThanOrEqual(0);
    expect(usage).toBeLessThan(1);
  });
});

describe('config version', () => {
  it('moves forward with every config write', async () => {
    const before = await store.getConfigVersion();
    await store.setSystemPrompt('version 1');
    const after = await store.getConfigVersion();
    expect(after).toBeGreaterThan(before);
    await db.sql`UPDATE deployment_settings SET system_prompt = 'version 2'`;
    expect(await store.getConfigVersion()).toBeGreaterThan(after);
  });
});

describe('replicas', () => {
  it('registers, heartbeats, lists and removes replicas', async () => {
    const id = '11111111-1111-4111-8111-111111111111';
    const replica = await store.upsertReplica({ id, hostname: 'host-a' });
    expect(replica.appliedConfigVersion).toBe(0);
    const version = await store.getConfigVersion();
    expect(await store.heartbeatReplica(id, 42, 60_000)).toEqual({ found: true, configVersion: version });
    const [listed] = (await store.listReplicas()).filter((r) => r.id === id);
    expect(listed).toMatchObject({ hostname: 'host-a', appliedConfigVersion: 42 });
    await store.deleteReplica(id);
    expect((await store.heartbeatReplica(id, 43, 60_000)).found).toBe(false);
  });
});

describe('secrets key', () => {
  it('records, replaces and reads the check value, 32 bytes only', async () => {
    expect(await store.getSecretsKeyCheck()).toBeUndefined();
    const [first, second] = [randomBytes(32), randomBytes(32)];
    await store.recordSecretsKeyCheck(first);
    expect((await store.getSecretsKeyCheck())?.equals(first)).toBe(true);
    await store.recordSecretsKeyCheck(second);
    expect((await store.getSecretsKeyCheck())?.equals(second)).toBe(true);
    const [{ rows }] = await db.sql<[{ rows: number }]>`SELECT count(*)::int AS rows FROM secrets_key_check`;
    expect(rows).toBe(1);
    await expectSqlState(store.recordSecretsKeyCheck(randomBytes(16)), SqlState.checkViolation);
  });

  it('locks the stored provider API keys and replaces one without touching updated_at', async () => {
    const box = randomBytes(48);
    const keyed = await store.insertChatProvider({
      provider: 'openai',
      displayName: 'Keyed',
      apiKeyEncrypted: box,
      baseUrl: null,
      enabled: true,
    });
    const keyless = await store.insertChatProvider({
      provider: 'builtin',
      displayName: 'Keyless',
      apiKeyEncrypted: null,
      baseUrl: null,
      enabled: true,
    });
    const replacement = randomBytes(48);
    await store.transaction(async (tx) => {
      await tx.lockSecretsKeyCheck();
      const locked = await tx.lockEncryptedChatProviderApiKeys();
      expect(locked).toContainEqual({ id: keyed.id, displayName: 'Keyed', apiKeyEncrypted: box });
      expect(locked.map((row) => row.id)).not.toContain(keyless.id);
      expect(await tx.setChatProviderApiKeyEncrypted(keyed.id, replacement)).toBe(true);
    });
    const after = await store.getChatProviderById(keyed.id);
    expect(after?.apiKeyEncrypted?.equals(replacement)).toBe(true);
    expect(after?.updatedAt).toEqual(keyed.updatedAt);
    expect(
      await store.setChatProviderApiKeyEncrypted('00000000-0000-0000-0000-000000000000', replacement),
    ).toBe(false);
  });
});

describe('transactions', () => {
  it('lockUserBootstrap makes a second transaction wait until the first ends', async () => {
    const order: string[] = [];
    let releaseFirst!: () => void;
    const firstMayEnd = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstLocked!: () => void;
    const firstHasLock = new Promise<void>((resolve) => {
      firstLocked = resolve;
    });
    const first = store.transaction(async (tx) => {
      await tx.lockUserBootstrap();
      firstLocked();
      await firstMayEnd;
      order.push('first');
    });
    await firstHasLock;
    const second = store.transaction(async (tx) => {
      await tx.lockUserBootstrap();
      order.push('second');
    });
    // Wait until the server shows the second transaction blocked on the advisory lock.
    for (;;) {
      const [row] = await db.sql<[{ waiting: number }]>`
        SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`;
      if (row.waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(order).toEqual([]);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
  });

  it('rolls back every statement when the work throws', async () => {
    const username = 'rolled-back';
    await expect(
      store.transaction(async (tx) => {
        await tx.insertUser({ username, role: 'member' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.getUserByUsername(username)).toBeUndefined();
  });

  it('nests with a savepoint', async () => {
    await store.transaction(async (tx) => {
      await tx.insertUser({ username: 'outer', role: 'member' });
      await tx
        .transaction(async (inner) => inner.insertUser({ username: 'inner', role: 'member' }))
        .catch(() => {});
      await expect(
        tx.transaction(async (inner) => {
          await inner.insertUser({ username: 'inner-2', role: 'member' });
          throw new Error('inner failure');
        }),
      ).rejects.toThrow('inner failure');
    });
    expect(await store.getUserByUsername('outer')).toBeDefined();
    expect(await store.getUserByUsername('inner')).toBeDefined();
    expect(await store.getUserByUsername('inner-2')).toBeUndefined();
  });
});

describe('the context window queries', () => {
  const worker = '55555555-5555-4555-8555-555555555555';
  const stranger = '66666666-6666-4666-8666-666666666666';

  /** A running chat of a new member with a question, an answer and a second question. */
  async function runningChat(name: string) {
    const owner = await store.insertUser({ username: name, role: 'member' });
    const { chat, message: m1 } = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: name,
      modelConfigId: null,
      content: 'first question',
    });
    const claimed = (await store.acquirePendingChats(worker, 100)).find((c) => c.id === chat.id)!;
    const m2 = await store.insertChatMessage({
      chatId: chat.id,
      role: 'assistant',
      content: 'first answer',
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
      replyTo: m1.id,
    });
    const m3 = await store.insertChatMessage({
      chatId: chat.id,
      role: 'user',
      content: 'second question',
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
    });
    return { owner, chat, claim: claimed.claimId!, m1, m2, m3 };
  }

  it('round-trips the context settings of model configs, within the schema rules', async () => {
    const provider = await store.insertChatProvider({
      provider: 'builtin',
      displayName: 'Builtin (context)',
      apiKeyEncrypted: null,
      baseUrl: null,
      enabled: true,
    });
    const defaults = await store.insertChatModelConfig(modelConfig(provider.id));
    expect(defaults).toMatchObject({ maxOutputTokens: null, compressionThreshold: 70 });
    const set = await store.insertChatModelConfig(
      modelConfig(provider.id, { maxOutputTokens: 4_096, compressionThreshold: 90 }),
    );
    expect(await store.getChatModelConfigById(set.id)).toMatchObject({
      maxOutputTokens: 4_096,
      compressionThreshold: 90,
    });
    await expectSqlState(
      store.insertChatModelConfig(modelConfig(provider.id, { maxOutputTokens: 4_097 })),
      SqlState.checkViolation,
    );
    await expectSqlState(
      store.updateChatModelConfig(set.id, { compressionThreshold: 0 }),
      SqlState.checkViolation,
    );
    expect(await store.updateChatModelConfig(set.id, { maxOutputTokens: null })).toMatchObject({
      maxOutputTokens: null,
    });
  });

  it('stores a summary for the owning claim only, moving forward only, and reads it with the history', async () => {
    const { chat, claim, m1, m2, m3 } = await runningChat('summarised');
    expect(await store.getChatTurnHistory(chat.id, claim)).toEqual({
      summary: null,
      messages: [expect.objectContaining({ id: m1.id }), m2, m3],
      compactRequested: false,
    });
    const summary = {
      chatId: chat.id,
      claimId: claim,
      content: 'they asked a question\u0000',
      throughMessageId: m2.id,
      tokenCount: 5,
      modelConfigId: null,
      inputTokens: 40,
      outputTokens: 6,
    };
    expect(await store.saveChatSummary({ ...summary, claimId: stranger })).toBeUndefined();
    const saved = await store.saveChatSummary(summary);
    expect(saved).toMatchObject({
      chatId: chat.id,
      content: 'they asked a question',
      throughMessageId: m2.id,
      tokenCount: 5,
      inputTokens: 40,
      outputTokens: 6,
      compactions: 1,
    });
    expect(await store.getChatSummary(chat.id)).toEqual(saved);
    expect(await store.getChatTurnHistory(chat.id, claim)).toEqual({
      summary: { content: saved!.content, throughMessageId: m2.id, tokenCount: 5 },
      messages: [m3],
      compactRequested: false,
    });
    // An older summary never replaces a newer one; a newer one adds its usage.
    expect(await store.saveChatSummary({ ...summary, throughMessageId: m1.id })).toBeUndefined();
    const later = await store.saveChatSummary({ ...summary, throughMessageId: m3.id, content: 'all of it' });
    expect(later).toMatchObject({
      throughMessageId: m3.id,
      inputTokens: 80,
      outputTokens: 12,
      compactions: 2,
    });
    expect((await store.getChatTurnHistory(chat.id, claim)).messages).toEqual([]);
    expect(await store.getChatSummary(randomUUID())).toBeUndefined();

    // A summary stands only for messages as they are: an edit of a covered message drops it, and so
    // does deleting the last message it covers.
    await db.sql`UPDATE chat_messages SET content = 'edited' WHERE id = ${m2.id}`;
    expect(await store.getChatSummary(chat.id)).toBeUndefined();
    await store.saveChatSummary({ ...summary, throughMessageId: m3.id });
    await db.sql`DELETE FROM chat_messages WHERE id = ${m3.id}`;
    expect(await store.getChatSummary(chat.id)).toBeUndefined();
  });

  it('acquires pending chats with the history after their summary and the compaction request, in one statement', async () => {
    const { owner, chat, claim, m1, m2, m3 } = await runningChat('acquired');
    await store.saveChatSummary({
      chatId: chat.id,
      claimId: claim,
      content: 'the start',
      throughMessageId: m1.id,
      tokenCount: 2,
      modelConfigId: null,
      inputTokens: 1,
      outputTokens: 1,
    });
    // Ends with a message queued, so the chat is pending again; and a compaction is asked for.
    await store.insertQueuedMessage({ chatId: chat.id, content: 'queued' });
    await store.requestChatCompaction({ chatId: chat.id, ownerId: owner.id });
    const ended = await store.completeChatTurn({
      chatId: chat.id,
      claimId: claim,
      assistant: {
        content: 'second answer',
        finishReason: 'stop',
        replyTo: m3.id,
        modelConfigId: null,
        inputTokens: null,
        outputTokens: null,
      },
      lastError: null,
    });
    expect(ended?.status).toBe('pending');
    const acquired = (await store.acquirePendingChats(worker, 100)).find((c) => c.id === chat.id)!;
    expect(acquired).toMatchObject({ status: 'running', workerId: worker, compactTaken: true });
    expect(acquired.history).toEqual({
      summary: { content: 'the start', throughMessageId: m1.id, tokenCount: 2 },
      messages: [m2, m3, ended!.message],
      compactRequested: true,
    });
    // Taken: the row no longer asks, and the claim's own read would not see it again.
    expect((await store.getChatTurnHistory(chat.id, acquired.claimId!)).compactRequested).toBe(false);
  });

  it('claims an idle chat in the statement that accepts its message, reading the history after its summary', async () => {
    const { owner, chat, claim, m1, m2, m3 } = await runningChat('accepted');
    await store.saveChatSummary({
      chatId: chat.id,
      claimId: claim,
      content: 'the first exchange',
      throughMessageId: m2.id,
      tokenCount: 4,
      modelConfigId: null,
      inputTokens: 1,
      outputTokens: 1,
    });
    // The turn fails: the chat ends in `error`, where a compaction request only sets the flag.
    const failed = await store.completeChatTurn({
      chatId: chat.id,
      claimId: claim,
      assistant: {
        content: '',
        finishReason: 'error',
        replyTo: m3.id,
        modelConfigId: null,
        inputTokens: null,
        outputTokens: null,
      },
      lastError: 'the provider failed',
    });
    expect(await store.requestChatCompaction({ chatId: chat.id, ownerId: owner.id })).toMatchObject({
      status: 'error',
      woke: false,
    });

    const appended = await store.appendUserMessageIfIdle({
      chatId: chat.id,
      ownerId: owner.id,
      content: 'third question',
      claimFor: worker,
    });
    expect(appended).toMatchObject({ role: 'user', content: 'third question' });
    const { claimed } = appended!;
    expect(claimed!.chat).toMatchObject({
      id: chat.id,
      status: 'running',
      workerId: worker,
      claimId: expect.any(String),
      lastError: null,
      statusVersion: appended!.statusVersion,
    });
    expect(claimed!.chat.claimId).not.toBe(claim);
    expect(claimed!.history).toEqual({
      summary: { content: 'the first exchange', throughMessageId: m2.id, tokenCount: 4 },
      // After the summary: the failed question, its error answer, and the message just accepted.
      messages: [m3, failed!.message, appended].map((message) =>
        expect.objectContaining({ id: message!.id, role: message!.role, content: message!.content }),
      ),
      compactRequested: true,
    });
    expect(claimed!.history.messages.every((message) => message.createdAt instanceof Date)).toBe(true);
    expect(claimed!.history.messages.some((message) => message.id === m1.id)).toBe(false);
    // The claim took the request, and holds the chat: a second message is not accepted past it.
    expect(await store.getChatById(chat.id)).toMatchObject({
      status: 'running',
      claimId: claimed!.chat.claimId,
    });
    const [{ compactRequested }] = await db.sql<[{ compactRequested: boolean }]>`
      SELECT compact_requested FROM chats WHERE id = ${chat.id}`;
    expect(compactRequested).toBe(false);
    expect(
      await store.appendUserMessageIfIdle({
        chatId: chat.id,
        ownerId: owner.id,
        content: 'no',
        claimFor: worker,
      }),
    ).toBeUndefined();

    // Without a worker the same statement leaves the chat pending and reads no history.
    await store.completeChatTurn({
      chatId: chat.id,
      claimId: claimed!.chat.claimId!,
      assistant: null,
      lastError: null,
    });
    const unclaimed = await store.appendUserMessageIfIdle({
      chatId: chat.id,
      ownerId: owner.id,
      content: 'later',
    });
    expect(unclaimed).toMatchObject({ content: 'later', claimed: null });
    expect(await store.getChatById(chat.id)).toMatchObject({
      status: 'pending',
      workerId: null,
      claimId: null,
    });

    // A new chat claimed as it is created: running, its history its first message.
    const created = await store.insertChatWithFirstMessage({
      ownerId: owner.id,
      title: 'claimed at once',
      modelConfigId: null,
      content: 'hello',
      claimFor: worker,
    });
    expect(created.chat).toMatchObject({ status: 'running', workerId: worker, claimId: expect.any(String) });
    expect(created.claimed).toEqual({
      chat: created.chat,
      history: { summary: null, messages: [created.message], compactRequested: false },
    });
  });

  it('records compaction requests: an idle chat wakes, a running one compacts after its turn', async () => {
    const { owner, chat, claim, m3 } = await runningChat('compacted');
    const other = await store.insertUser({ username: 'not-the-owner', role: 'member' });
    expect(await store.requestChatCompaction({ chatId: chat.id, ownerId: other.id })).toBeUndefined();
    const running = await store.requestChatCompaction({ chatId: chat.id, ownerId: owner.id });
    expect(running).toMatchObject({ status: 'running', woke: false });
    // Only the owning claim takes the request, once.
    expect((await store.getChatTurnHistory(chat.id, stranger)).compactRequested).toBe(false);
    expect((await store.getChatTurnHistory(chat.id, claim)).compactRequested).toBe(true);
    expect((await store.getChatTurnHistory(chat.id, claim)).compactRequested).toBe(false);

    // Asked again while the turn runs: the turn's end makes the chat pending for a compacting turn.
    await store.requestChatCompaction({ chatId: chat.id, ownerId: owner.id });
    const assistant = {
      content: 'second answer',
      finishReason: 'stop' as const,
      replyTo: m3.id,
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
    };
    const done = await store.completeChatTurn({
      chatId: chat.id,
      claimId: claim,
      assistant,
      lastError: null,
    });
    expect(done?.status).toBe('pending');
    const next = (await store.acquirePendingChats(worker, 100)).find((c) => c.id === chat.id)!;
    // The claim takes the request (its history says so).
    expect(next).toMatchObject({ compactTaken: true, history: { compactRequested: true } });
    const idle = await store.completeChatTurn({
      chatId: chat.id,
      claimId: next.claimId!,
      assistant: null,
      lastError: null,
    });
    expect(idle?.status).toBe('waiting');

    // An idle chat becomes pending at once.
    const woken = await store.requestChatCompaction({ chatId: chat.id, ownerId: owner.id });
    expect(woken).toMatchObject({ status: 'pending', woke: true, statusVersion: idle!.statusVersion + 1 });
    // A turn that does not take the request (a replica of the previous release) still comes to rest: the
    // request was not made while its claim ran.
    const old = (await store.acquirePendingChats(worker, 100)).find((c) => c.id === chat.id)!;
    const rest = await store.completeChatTurn({
      chatId: chat.id,
      claimId: old.claimId!,
      assistant: null,
      lastError: null,
    });
    expect(rest?.status).toBe('waiting');
    // An archived chat takes no request.
    await store.setChatArchived(chat.id, true);
    expect(await store.requestChatCompaction({ chatId: chat.id, ownerId: owner.id })).toBeUndefined();
  });
});

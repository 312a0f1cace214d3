import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/db/store.js';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUser, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';

const db = useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi(db.store);
});
afterAll(() => api?.close());

interface ChatJson {
  id: string;
  title: string;
  archived: boolean;
  updated_at: string;
}

async function listPage(
  user: TestUser,
  query: string,
): Promise<{ chats: ChatJson[]; next_cursor: string | null }> {
  const response = await api.request('GET', `/api/v1/chats${query}`, { token: user.token });
  expect(response.status, response.text).toBe(200);
  return response.json;
}

/** Follows `next_cursor` to the end; `between` runs after each page (concurrent activity). */
async function walk(
  user: TestUser,
  params: Record<string, string>,
  between: (page: ChatJson[]) => Promise<void> = async () => {},
): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ ...params, ...(cursor ? { cursor } : {}) });
    const page = await listPage(user, `?${query}`);
    seen.push(...page.chats.map((chat) => chat.id));
    cursor = page.next_cursor;
    if (cursor) await between(page.chats);
  } while (cursor);
  return seen;
}

/** Inserts `count` waiting chats of `owner` in one statement; `archived` and `updated_at` vary by index. */
async function insertChats(
  owner: TestUser,
  count: number,
  shape: { archivedEvery?: number; tiedEvery?: number } = {},
): Promise<{ id: string; archived: boolean }[]> {
  const archivedEvery = shape.archivedEvery ?? 0;
  const tiedEvery = shape.tiedEvery ?? 0;
  return db.sql<{ id: string; archived: boolean }[]>`
    INSERT INTO chats (owner_id, title, status, archived, updated_at)
    SELECT ${owner.id}, 'chat ' || i, 'waiting', ${archivedEvery} > 0 AND i % ${archivedEvery} = 0,
           CASE WHEN ${tiedEvery} > 0 AND i % ${tiedEvery} = 0
             THEN timestamptz '2024-01-01 00:00:00.000001+00'
             ELSE now() - i * interval '1 minute' END
    FROM generate_series(1, ${count}) i
    RETURNING id, archived`;
}

function counts(ids: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const id of ids) map.set(id, (map.get(id) ?? 0) + 1);
  return map;
}

describe('GET /chats: keyset pages', () => {
  it('pages newest activity first, 50 by default, with an opaque cursor and next_cursor null at the end', async () => {
    const owner = await createTestUser(db.store, 'member', 'pages');
    await insertChats(owner, 120);
    const first = await listPage(owner, '');
    expect(first.chats).toHaveLength(50);
    expect(first.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const times = first.chats.map((chat) => Date.parse(chat.updated_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(await walk(owner, { limit: '200' })).toHaveLength(120);
    const last = await listPage(owner, '?limit=200');
    expect(last.next_cursor).toBeNull();
    // Exactly `limit` left: the page that ends the list says so (no empty page after it).
    const exact = await walk(owner, { limit: '40' });
    expect(exact).toHaveLength(120);
  });

  it('returns every chat exactly once while chats are touched and created between pages, for each archive filter', async () => {
    const owner = await createTestUser(db.store, 'member', 'stable');
    // A third archived; every 7th shares one instant (to the microsecond): ties are broken by id.
    await insertChats(owner, 90, { archivedEvery: 3, tiedEvery: 7 });
    for (const archived of ['false', 'true', 'all'] as const) {
      const rows = await db.sql<{ id: string; archived: boolean }[]>`
        SELECT id, archived FROM chats WHERE owner_id = ${owner.id}`;
      const expected = rows
        .filter((row) => archived === 'all' || row.archived === (archived === 'true'))
        .map((row) => row.id);
      const seen = new Set<string>();
      const touchedUnseen = new Set<string>();
      const created: string[] = [];
      const order = await walk(owner, { limit: '7', archived }, async (page) => {
        for (const chat of page) seen.add(chat.id);
        // Activity between pages: a chat already listed and one not listed yet move to the top (a send
        // does exactly this to updated_at), and a new chat appears.
        const seenOne = page[0]!.id;
        const unseenOne = expected.find((id) => !seen.has(id) && !touchedUnseen.has(id));
        const touched = unseenOne ? [seenOne, unseenOne] : [seenOne];
        if (unseenOne) touchedUnseen.add(unseenOne);
        await db.sql`UPDATE chats SET updated_at = now() WHERE id IN ${db.sql(touched)}`;
        const response = await api.request('POST', '/api/v1/chats', {
          token: owner.token,
          body: { content: 'made while paging' },
        });
        created.push(response.json.id);
      });
      const times = counts(order);
      // Never twice, whatever moved.
      expect(
        [...times.values()].every((n) => n === 1),
        archived,
      ).toBe(true);
      // Every chat that did not move is listed; one that moved ahead of the cursor may be missed by
      // this walk (a client refreshes the top for it), one that moved behind it is listed once.
      for (const id of expected) if (!touchedUnseen.has(id)) expect(times.get(id), id).toBe(1);
      // Chats made while paging are newer than every cursor: the next fresh first page shows them.
      for (const id of order) expect(expected).toContain(id);
      // The moved chats and the new ones are at the top of a fresh first page.
      const top = await listPage(owner, `?limit=200&archived=${archived}`);
      const topIds = top.chats.map((chat) => chat.id);
      for (const id of touchedUnseen) expect(topIds).toContain(id);
      if (archived !== 'true') for (const id of created) expect(topIds).toContain(id);
    }
  });

  it('filters by archive state: false (the default), true, all; include_archived=true is all', async () => {
    const owner = await createTestUser(db.store, 'member', 'archive');
    const chats = await insertChats(owner, 9, { archivedEvery: 3 });
    const archivedIds = chats.filter((c) => c.archived).map((c) => c.id);
    const activeIds = chats.filter((c) => !c.archived).map((c) => c.id);
    const sorted = (ids: string[]) => [...ids].sort();
    expect(sorted(await walk(owner, {}))).toEqual(sorted(activeIds));
    expect(sorted(await walk(owner, { archived: 'false' }))).toEqual(sorted(activeIds));
    expect(sorted(await walk(owner, { archived: 'true' }))).toEqual(sorted(archivedIds));
    expect(sorted(await walk(owner, { archived: 'all' }))).toHaveLength(9);
    expect(sorted(await walk(owner, { include_archived: 'true' }))).toHaveLength(9);
    expect(sorted(await walk(owner, { include_archived: 'false' }))).toEqual(sorted(activeIds));
  });

  it('refuses a bad limit, a cursor it did not make, an unknown archive filter, and both archive parameters', async () => {
    const owner = await createTestUser(db.store, 'member', 'refused');
    const forged = Buffer.from('2024-02-30T00:00:00.000000Z|00000000-0000-4000-8000-000000000000').toString(
      'base64url',
    );
    for (const query of [
      '?limit=0',
      '?limit=201',
      '?limit=abc',
      '?limit=1.5',
      '?cursor=not-a-cursor',
      '?cursor=',
      `?cursor=${forged}`,
      '?archived=maybe',
      '?archived=true&include_archived=true',
      '?q=a&q=b',
    ]) {
      const response = await api.request('GET', `/api/v1/chats${query}`, { token: owner.token });
      expect(response.status, query).toBe(400);
      expect(response.json.error.code, query).toBe('E_INVALID_INPUT');
    }
    expect((await listPage(owner, '?limit=200')).chats).toEqual([]);
  });
});

describe('GET /chats?q: full-text search', () => {
  let member: TestUser;
  let other: TestUser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    member = await createTestUser(db.store, 'member', 'searcher');
    other = await createTestUser(db.store, 'member', 'stranger');
    const chat = async (owner: TestUser, name: string, title: string, messages: string[]) => {
      const row = await db.store.insertChat({
        ownerId: owner.id,
        title,
        status: 'waiting',
        modelConfigId: null,
      });
      for (const [i, content] of messages.entries()) {
        await db.store.insertChatMessage({
          chatId: row.id,
          role: i % 2 === 0 ? 'user' : 'assistant',
          content,
          modelConfigId: null,
          inputTokens: null,
          outputTokens: null,
        });
      }
      ids[name] = row.id;
    };
    await chat(member, 'budget', 'Quarterly budget review', ['Here are the numbers', 'They add up']);
    await chat(member, 'trip', 'Hello', ['Plan my trip', 'Here is the Zanzibar itinerary: day one…']);
    await chat(member, 'old trip', 'Older', ['Zanzibar again?', 'Yes, Zanzibar beaches']);
    await db.sql`UPDATE chats SET archived = true WHERE id = ${ids['old trip']!}`;
    await chat(other, 'theirs', 'Zanzibar for me', ['zanzibar itinerary too']);
  });

  async function search(user: TestUser, params: Record<string, string>): Promise<string[]> {
    const names = Object.fromEntries(Object.entries(ids).map(([name, id]) => [id, name]));
    return (await walk(user, params)).map((id) => names[id] ?? id);
  }

  it('finds by message content and by title, only among the caller’s chats, within the archive filter', async () => {
    expect(await search(member, { q: 'zanzibar' })).toEqual(['trip']);
    expect(await search(member, { q: 'ZANZIBAR', archived: 'all' })).toEqual(['old trip', 'trip']);
    expect(await search(member, { q: 'zanzibar', archived: 'true' })).toEqual(['old trip']);
    expect(await search(member, { q: 'budget' })).toEqual(['budget']);
    expect(await search(member, { q: 'numbers' })).toEqual(['budget']);
    expect(await search(other, { q: 'zanzibar', archived: 'all' })).toEqual(['theirs']);
    expect(await search(member, { q: 'nowhere' })).toEqual([]);
  });

  it('takes web search syntax: phrases, or, -word; pages results with the cursor; a blank q is no search', async () => {
    expect(await search(member, { q: '"zanzibar itinerary"', archived: 'all' })).toEqual(['trip']);
    expect(await search(member, { q: '"itinerary zanzibar"', archived: 'all' })).toEqual([]);
    expect(await search(member, { q: 'budget or beaches', archived: 'all' })).toEqual(['old trip', 'budget']);
    expect(await search(member, { q: 'zanzibar -itinerary', archived: 'all' })).toEqual(['old trip']);
    // Punctuation alone has no words: nothing matches (and nothing fails).
    expect(await search(member, { q: '!!! ...' })).toEqual([]);
    expect(await search(member, { q: 'here', archived: 'all', limit: '1' })).toEqual(['trip', 'budget']);
    expect(await search(member, { q: '   ' })).toHaveLength(2);
  });
});

describe('search plans', () => {
  it('uses the GIN indexes on titles and message content, and walks the owner’s chats by activity', async () => {
    // Realistic proportions: a heavy user with 2,000 chats among 60 others with 50 each, 8 messages a chat.
    const heavy = await createTestUser(db.store, 'member', 'heavy');
    const owners = [
      heavy,
      ...(await Promise.all(Array.from({ length: 60 }, () => createTestUser(db.store, 'member', 'light')))),
    ];
    for (const [index, owner] of owners.entries()) {
      await db.sql`
        WITH chats AS (
          INSERT INTO chats (owner_id, title, status, updated_at)
          SELECT ${owner.id}, 'topic ' || (i % 400) || ' notes', 'waiting', now() - i * interval '1 minute'
          FROM generate_series(1, ${index === 0 ? 2000 : 50}) i
          RETURNING id)
        INSERT INTO chat_messages (chat_id, role, content)
        SELECT id, 'user', 'common words every message has w' || (random() * 1000)::int || ' w' || (random() * 1000)::int
        FROM chats, generate_series(1, 8)`;
    }
    const [rare] = await db.sql<[{ id: string }]>`
      SELECT c.id FROM chats c WHERE c.owner_id = ${heavy.id} ORDER BY c.updated_at DESC OFFSET 1500 LIMIT 1`;
    await db.store.insertChatMessage({
      chatId: rare!.id,
      role: 'user',
      content: 'the word quokka is rare',
      modelConfigId: null,
      inputTokens: null,
      outputTokens: null,
    });
    await db.sql`ANALYZE chats`;
    await db.sql`ANALYZE chat_messages`;

    // The statement the server sends, captured as postgres.js sends it, then explained as is.
    const sent: { query: string; parameters: unknown[] }[] = [];
    const capture = postgres(db.database.url, {
      max: 1,
      onnotice: () => {},
      debug: (_connection, query, parameters) => sent.push({ query, parameters: parameters as unknown[] }),
      transform: { undefined: null, column: { from: postgres.toCamel } },
    });
    try {
      const page = { ownerId: heavy.id, archived: false, after: null, limit: 50 };
      const found = await createPostgresStore(capture).searchOwnerChatsPage({ ...page, query: 'quokka' });
      expect(found.chats.map((chat) => chat.id)).toEqual([rare!.id]);
      const statement = sent.at(-1)!;
      const plan = await explain(statement.query, statement.parameters);
      expect(plan.indexes).toEqual(
        expect.arrayContaining([
          'chats_owner_activity_idx',
          'chats_title_search_idx',
          'chat_messages_content_search_idx',
        ]),
      );
      expect(plan.nodeTypes).not.toContain('Seq Scan');
      // Owner first: the top of the plan walks the owner's chats in page order, without a sort.
      expect(plan.indexes[0]).toBe('chats_owner_activity_idx');
      expect(plan.nodeTypes).not.toContain('Sort');
      // A title search over the heavy user's chats: the title index finds them.
      await createPostgresStore(capture).searchOwnerChatsPage({ ...page, query: 'topic 7' });
      const titles = await explain(sent.at(-1)!.query, sent.at(-1)!.parameters);
      expect(titles.indexes).toContain('chats_title_search_idx');
      expect(titles.nodeTypes).not.toContain('Seq Scan');
    } finally {
      await capture.end();
    }
  }, 60_000);
});

/** The index names and node types of a statement's plan (EXPLAIN ANALYZE, so it really ran). */
async function explain(
  query: string,
  parameters: unknown[],
): Promise<{ indexes: string[]; nodeTypes: string[] }> {
  const [row] = await db.sql.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${query}`, parameters as never[]);
  const root = (Object.values(row!)[0] as [{ Plan: PlanNode }])[0].Plan;
  const indexes: string[] = [];
  const nodeTypes: string[] = [];
  const visit = (node: PlanNode) => {
    nodeTypes.push(node['Node Type']);
    if (node['Index Name']) indexes.push(node['Index Name']);
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(root);
  return { indexes, nodeTypes };
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

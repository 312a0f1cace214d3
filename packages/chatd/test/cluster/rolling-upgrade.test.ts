import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { loadMigrations, type Migration, migrate } from '../../src/db/migrate.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { eventually } from '../support/eventually.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

/**
 * A rolling upgrade as docs/design.md describes it: replicas of this build keep running while the next
 * release's `chatd migrate` applies its expand step. This build is "release N-1" here; the next release's
 * migrations are test fixtures applied on top of the shipped ones.
 */
const NEXT_RELEASE_DIR = fileURLToPath(new URL('./next-release-migrations/', import.meta.url));

const db = useTestDatabase();
let server: ChatdServer;
let admin: ChatdClient;
let shipped: Migration[];

beforeAll(async () => {
  server = await startTestServer(db.database.url);
  admin = new ChatdClient(server.url, server.firstAdmin!.token);
  shipped = await loadMigrations();
});
afterAll(() => server?.close());

async function readiness(): Promise<{ status: number; reasons: string[] }> {
  const response = await fetch(`${server.url}/readyz`);
  const body = (await response.json()) as { reasons?: string[] };
  return { status: response.status, reasons: body.reasons ?? [] };
}

/** A chat turn and the config CRUD, as a user and an admin of this build do them. */
async function exerciseApi(tag: string): Promise<void> {
  const { providerId, modelConfigId } = await createModel(admin, { provider: 'builtin', model: 'echo' });
  await admin.request('PATCH', `/api/v1/chat/providers/${providerId}`, { display_name: `echo ${tag}` });
  const configs = await admin.request<{ model_configs?: unknown[] } | unknown[]>(
    'GET',
    '/api/v1/chat/model-configs',
  );
  expect(configs).toBeTruthy();
  await admin.request('PATCH', `/api/v1/chat/model-configs/${modelConfigId}`, {
    display_name: `echo ${tag}`,
  });
  await admin.request('PUT', '/api/v1/chat/config/system-prompt', { system_prompt: `system ${tag}` });
  const member = await createMember(admin, server.url, `member-${tag}`);
  await member.request('PUT', '/api/v1/chat/config/user-prompt', { custom_prompt: `be brief ${tag}` });

  const chat = await member.createChat(`hello ${tag}`, modelConfigId);
  const first = await waitForTurn(member, chat.id, { minMessages: 2 });
  expect(first.status).toBe('waiting');
  expect(first.messages.map((m) => m.content)).toEqual([`hello ${tag}`, `hello ${tag}`]);
  await member.sendMessage(chat.id, `again ${tag}`);
  const second = await waitForTurn(member, chat.id, { minMessages: 2, afterId: first.messages[1]!.id });
  expect(second.status).toBe('waiting');
  expect(second.messages.map((m) => m.content)).toEqual([`again ${tag}`, `again ${tag}`]);
  const listed = await member.request<{ chats: Array<{ id: string }> }>('GET', '/api/v1/chats');
  expect(listed.chats.map((c) => c.id)).toContain(chat.id);
  await member.request('POST', `/api/v1/chats/${chat.id}/archive`);
  await member.request('DELETE', `/api/v1/chats/${chat.id}`);

  const status = await admin.request<{ version: number }>('GET', '/api/v1/chat/config/status');
  expect(status.version).toBeGreaterThan(0);
  await admin.request('DELETE', `/api/v1/chat/model-configs/${modelConfigId}`);
  await admin.request('DELETE', `/api/v1/chat/providers/${providerId}`);
}

describe('a rolling upgrade', () => {
  it('keeps serving turns and config writes, and stays ready, while the next release expands the schema', async () => {
    const next = await loadMigrations(NEXT_RELEASE_DIR);
    expect(next.map((m) => [m.id, m.expand])).toEqual([[9001, true]]);
    // Turns in flight while the next release's `chatd migrate` alters the tables they write.
    const { modelConfigId } = await createModel(admin, { provider: 'builtin', model: 'echo' });
    const member = await createMember(admin, server.url, 'during');
    const chats = await Promise.all(
      Array.from({ length: 5 }, (_, i) => member.createChat(`during ${i}`, modelConfigId)),
    );
    const result = await migrate(db.sql, [...shipped, ...next], { lockTimeoutMs: 1_000, retryDelayMs: 100 });
    expect(result.applied).toEqual([9001]);
    for (const chat of chats) {
      expect((await waitForTurn(member, chat.id, { minMessages: 2 })).status).toBe('waiting');
    }

    expect(await readiness()).toEqual({ status: 200, reasons: [] });
    await exerciseApi('expanded');

    // A replica of this build (re)started mid-rollout runs on the expanded schema, either way.
    for (const mode of ['auto', 'off'] as const) {
      const restarted = await startTestServer(db.database.url, { migrate: mode });
      try {
        expect((await fetch(`${restarted.url}/readyz`)).status).toBe(200);
      } finally {
        await restarted.close();
      }
    }
  });

  it('goes not ready on a newer contract step, says why, and keeps answering', async () => {
    await db.sql`INSERT INTO chatd_migrations (id, name) VALUES (9002, 'next_release_contract')`;
    try {
      await eventually(async () => (await readiness()).status === 503, 'not ready', 10_000);
      const { reasons } = await readiness();
      expect(reasons).toEqual([
        expect.stringMatching(
          /schema version 9002 is newer than this build knows \(\d+\) and migrations 9002 are not expand steps it can run on: finish the rollout/,
        ),
      ]);
      // Not ready takes it out of the load balancer; what still reaches it is answered.
      await exerciseApi('contracted');
      // A replica of this build refuses to start on it.
      await expect(startTestServer(db.database.url)).rejects.toMatchObject({ code: 'E_SCHEMA_TOO_NEW' });
      await expect(startTestServer(db.database.url, { migrate: 'off' })).rejects.toMatchObject({
        code: 'E_SCHEMA_TOO_NEW',
      });
    } finally {
      await db.sql`DELETE FROM chatd_migrations WHERE id = 9002`;
    }
    await eventually(async () => (await readiness()).status === 200, 'ready again', 10_000);
  });
});

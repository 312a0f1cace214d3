import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatdServer } from '../../src/cli/chatd-server.js';
import { ChatdClient } from '../../src/scaletest/chatd-client.js';
import { eventually } from '../support/eventually.js';
import { type ScriptedLlm, startScriptedLlm } from '../support/scripted-llm.js';
import { useTestDatabase } from '../support/test-database.js';
import { createMember, createModel, startTestServer, waitForTurn } from '../support/test-server.js';

/**
 * Where a provider's key may go, end to end: a whole replica (worker included) on this file's database
 * and OpenAI-compatible mocks on loopback that record the Authorization header of every request.
 */
const db = useTestDatabase();
let server: ChatdServer;
let admin: ChatdClient;
let member: ChatdClient;
let mockA: ScriptedLlm;
let mockB: ScriptedLlm;

beforeAll(async () => {
  server = await startTestServer(db.database.url);
  admin = new ChatdClient(server.url, server.firstAdmin!.token);
  member = await createMember(admin, server.url, 'provider-urls-member');
  mockA = await startScriptedLlm(() => ({ chunks: ['from A'] }));
  mockB = await startScriptedLlm(() => ({ chunks: ['from B'] }));
});
afterAll(async () => {
  await server?.close();
  await mockA?.close();
  await mockB?.close();
});

const PROVIDERS = '/api/v1/chat/providers';

interface ProviderJson {
  id: string;
  provider: string;
  base_url: string | null;
  has_api_key: boolean;
}

/** Waits until this replica's config cache serves the provider as the database has it. */
async function cacheServes(providerId: string, baseUrl: string): Promise<void> {
  await eventually(async () => {
    const providers = await server.configCache.getEnabledProviders();
    return providers.find((provider) => provider.id === providerId)?.baseUrl === baseUrl;
  }, `the config cache serves provider ${providerId} at ${baseUrl}`);
}

/** Runs one chat turn with `content` on the model config and returns its final status. */
async function turn(content: string, modelConfigId: string): Promise<string> {
  const chat = await member.createChat(content, modelConfigId);
  return (await waitForTurn(member, chat.id, { minMessages: 2 })).status;
}

describe('moving a provider', () => {
  it('a PATCH of base_url never lets a mock at the new URL see the key', async () => {
    const key = `sk-move-${randomBytes(12).toString('hex')}`;
    const { providerId, modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: mockA.url,
      apiKey: key,
      isDefault: false,
    });
    expect(await turn('before the move', modelConfigId)).toBe('waiting');
    expect(mockA.requestsFor('before the move').map((request) => request.authorization)).toEqual([
      `Bearer ${key}`,
    ]);

    const moved = await admin.request<ProviderJson>('PATCH', `${PROVIDERS}/${providerId}`, {
      base_url: mockB.url,
    });
    expect(moved).toMatchObject({ base_url: mockB.url, has_api_key: false });
    await cacheServes(providerId, mockB.url);

    // B may be called without a key (an openai-compat provider may have none) or the turn may fail for
    // want of one: either way the key never reaches B.
    await turn('after the move', modelConfigId);
    const seenByB = mockB.requests.map((request) => request.authorization ?? '');
    expect(mockB.requestsFor('after the move').length).toBeGreaterThan(0);
    for (const authorization of seenByB) expect(authorization).not.toContain(key);
  });

  it('a PATCH of base_url with api_key keeps the new key, sent only to the new URL', async () => {
    const { providerId, modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: mockA.url,
      apiKey: 'sk-old',
      isDefault: false,
    });
    const moved = await admin.request<ProviderJson>('PATCH', `${PROVIDERS}/${providerId}`, {
      base_url: mockB.url,
      api_key: 'sk-new-for-b',
    });
    expect(moved).toMatchObject({ base_url: mockB.url, has_api_key: true });
    await cacheServes(providerId, mockB.url);
    expect(await turn('moved with its key', modelConfigId)).toBe('waiting');
    expect(mockB.requestsFor('moved with its key').map((request) => request.authorization)).toEqual([
      'Bearer sk-new-for-b',
    ]);
  });

  it('sending the stored base_url again is not a move: the key stays', async () => {
    const { providerId, modelConfigId } = await createModel(admin, {
      provider: 'openai-compat',
      model: 'mock-model',
      baseUrl: mockA.url,
      apiKey: 'sk-stays',
      isDefault: false,
    });
    const same = await admin.request<ProviderJson>('PATCH', `${PROVIDERS}/${providerId}`, {
      base_url: mockA.url,
      display_name: 'Renamed',
    });
    expect(same).toMatchObject({ base_url: mockA.url, has_api_key: true });
    expect(await turn('same url', modelConfigId)).toBe('waiting');
    expect(mockA.requestsFor('same url').map((request) => request.authorization)).toEqual([
      'Bearer sk-stays',
    ]);
  });

  it('changing the provider kind drops the key too, and follows the kind rules', async () => {
    const { providerId } = await createModel(admin, {
      provider: 'openai',
      model: 'gpt-test',
      baseUrl: mockA.url,
      apiKey: 'sk-kind',
      isDefault: false,
    });
    // openai-compat needs a base URL; this one has one, so the change is valid.
    const changed = await admin.request<ProviderJson>('PATCH', `${PROVIDERS}/${providerId}`, {
      provider: 'openai-compat',
    });
    expect(changed).toMatchObject({ provider: 'openai-compat', base_url: mockA.url, has_api_key: false });

    const withKey = await admin.request<ProviderJson>('PATCH', `${PROVIDERS}/${providerId}`, {
      provider: 'openai',
      api_key: 'sk-kind-2',
    });
    expect(withKey).toMatchObject({ provider: 'openai', has_api_key: true });
    // The same kind again is not a change.
    const same = await admin.request<ProviderJson>('PATCH', `${PROVIDERS}/${providerId}`, {
      provider: 'openai',
    });
    expect(same.has_api_key).toBe(true);

    const anthropic = await admin.request<ProviderJson>('POST', PROVIDERS, {
      provider: 'anthropic',
      display_name: 'No URL',
      api_key: 'sk-ant',
    });
    await expect(
      admin.request('PATCH', `${PROVIDERS}/${anthropic.id}`, { provider: 'openai-compat' }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'E_INVALID_INPUT',
      message: expect.stringContaining('base_url'),
    });
    await expect(
      admin.request('PATCH', `${PROVIDERS}/${anthropic.id}`, { provider: 'mystery' }),
    ).rejects.toMatchObject({ status: 400 });
    // Refused changes leave the key where it was.
    const untouched = await admin.request<{ providers: ProviderJson[] }>('GET', PROVIDERS);
    expect(untouched.providers.find((provider) => provider.id === anthropic.id)).toMatchObject({
      provider: 'anthropic',
      has_api_key: true,
    });
  });
});

describe('provider addresses at request time', () => {
  it('a stored link-local base URL (written before the rule) is refused when the turn connects', async () => {
    // Straight into the table: the API refuses this URL, but rows written before the rule may have it.
    const provider = await db.store.insertChatProvider({
      provider: 'openai-compat',
      displayName: 'Legacy metadata',
      apiKeyEncrypted: null,
      baseUrl: 'http://169.254.169.254/v1',
      enabled: true,
    });
    const config = await db.store.insertChatModelConfig({
      providerId: provider.id,
      model: 'm',
      displayName: 'legacy',
      enabled: true,
      isDefault: false,
      contextLimit: 4096,
      options: {},
    });
    const chat = await member.createChat('to the metadata service', config.id);
    const startedAt = Date.now();
    const result = await waitForTurn(member, chat.id, { minMessages: 2 });
    expect(result.status).toBe('error');
    const { chat: after } = await member.getChat(chat.id);
    expect((after as unknown as { last_error: string }).last_error).toMatch(/link-local|metadata/);
    // Refused, not retried: no connect timeout, no backoff.
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });
});

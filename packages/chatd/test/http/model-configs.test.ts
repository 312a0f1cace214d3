import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';

const db = useTestDatabase();
let api: TestApi;
let users: { admin: TestUser; member: TestUser; other: TestUser };
let providerId: string;

const PATH = '/api/v1/chat/model-configs';

beforeAll(async () => {
  api = await startTestApi(db.store);
  users = await createTestUsers(db.store);
  const provider = await api.request('POST', '/api/v1/chat/providers', {
    token: users.admin.token,
    body: { provider: 'builtin', display_name: 'Builtin' },
  });
  providerId = provider.json.id;
});
afterAll(() => api?.close());

async function createConfig(fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const response = await api.request('POST', PATH, {
    token: users.admin.token,
    body: { provider_id: providerId, model: 'echo', display_name: 'Echo', context_limit: 8192, ...fields },
  });
  expect(response.status, response.text).toBe(201);
  return response.json;
}

async function listAs(user: TestUser): Promise<Array<{ id: string; is_default: boolean; enabled: boolean }>> {
  const response = await api.request('GET', PATH, { token: user.token });
  expect(response.status).toBe(200);
  return response.json.model_configs;
}

async function defaults(): Promise<string[]> {
  return (await listAs(users.admin)).filter((config) => config.is_default).map((config) => config.id);
}

describe('model configs', () => {
  it('creates with every field shown in snake_case', async () => {
    const config = await createConfig({ options: { temperature: 0.2, stop: ['\n'], nested: { a: null } } });
    expect(config).toEqual({
      id: expect.any(String),
      provider_id: providerId,
      model: 'echo',
      display_name: 'Echo',
      enabled: true,
      is_default: false,
      context_limit: 8192,
      max_output_tokens: 2048,
      compression_threshold: 70,
      options: { temperature: 0.2, stop: ['\n'], nested: { a: null } },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
  });

  it('keeps exactly one default: a new default, by create or by PATCH, takes the flag from the old one', async () => {
    const first = await createConfig({ is_default: true });
    expect(await defaults()).toEqual([first.id]);
    const second = await createConfig({ is_default: true });
    expect(await defaults()).toEqual([second.id]);
    const third = await createConfig();
    const patched = await api.request('PATCH', `${PATH}/${third.id}`, {
      token: users.admin.token,
      body: { is_default: true },
    });
    expect(patched.json.is_default).toBe(true);
    expect(await defaults()).toEqual([third.id]);
    const unset = await api.request('PATCH', `${PATH}/${third.id}`, {
      token: users.admin.token,
      body: { is_default: false },
    });
    expect(unset.json.is_default).toBe(false);
    expect(await defaults()).toEqual([]);
  });

  it('moves the default correctly when several admins move it at once', async () => {
    const configs = await Promise.all(Array.from({ length: 6 }, () => createConfig()));
    const responses = await Promise.all(
      configs.map((config) =>
        api.request('PATCH', `${PATH}/${config.id}`, {
          token: users.admin.token,
          body: { is_default: true },
        }),
      ),
    );
    for (const response of responses) expect(response.status, response.text).toBe(200);
    expect(await defaults()).toHaveLength(1);
  });

  it('a PATCH of an unknown config does not clear the current default', async () => {
    const current = await createConfig({ is_default: true });
    const missing = await api.request('PATCH', `${PATH}/00000000-0000-4000-8000-000000000001`, {
      token: users.admin.token,
      body: { is_default: true },
    });
    expect(missing.status).toBe(404);
    expect(await defaults()).toEqual([current.id]);
  });

  it('refuses an unknown provider, a non-positive or oversized context_limit and non-object options', async () => {
    const unknownProvider = await api.request('POST', PATH, {
      token: users.admin.token,
      body: {
        provider_id: '00000000-0000-4000-8000-000000000002',
        model: 'm',
        display_name: 'M',
        context_limit: 1,
      },
    });
    expect(unknownProvider.status).toBe(400);
    expect(unknownProvider.json.error.message).toContain('provider');
    for (const contextLimit of [0, -5, 1.5, 2 ** 31]) {
      const response = await api.request('POST', PATH, {
        token: users.admin.token,
        body: { provider_id: providerId, model: 'm', display_name: 'M', context_limit: contextLimit },
      });
      expect(response.status, String(contextLimit)).toBe(400);
      expect(response.json.error.message).toContain('context_limit');
    }
    const config = await createConfig();
    for (const options of [[1], 'x', null]) {
      const response = await api.request('PATCH', `${PATH}/${config.id}`, {
        token: users.admin.token,
        body: { options },
      });
      expect(response.status).toBe(400);
      expect(response.json.error.message).toContain('options');
    }
  });

  it('shows members only the enabled configs, admins all of them', async () => {
    const enabled = await createConfig({ display_name: 'On' });
    const disabled = await createConfig({ display_name: 'Off', enabled: false });
    const memberIds = (await listAs(users.member)).map((config) => config.id);
    const adminIds = (await listAs(users.admin)).map((config) => config.id);
    expect(memberIds).toContain(enabled.id);
    expect(memberIds).not.toContain(disabled.id);
    expect(adminIds).toEqual(expect.arrayContaining([enabled.id, disabled.id]));
    expect((await listAs(users.member)).every((config) => config.enabled)).toBe(true);
  });

  it('hides from members the configs of a disabled provider', async () => {
    const other = await api.request('POST', '/api/v1/chat/providers', {
      token: users.admin.token,
      body: { provider: 'builtin', display_name: 'Second builtin' },
    });
    const config = (
      await api.request('POST', PATH, {
        token: users.admin.token,
        body: { provider_id: other.json.id, model: 'echo', display_name: 'Echo 2', context_limit: 8192 },
      })
    ).json as { id: string };
    expect((await listAs(users.member)).map((c) => c.id)).toContain(config.id);
    await api.request('PATCH', `/api/v1/chat/providers/${other.json.id}`, {
      token: users.admin.token,
      body: { enabled: false },
    });
    expect((await listAs(users.member)).map((c) => c.id)).not.toContain(config.id);
    expect((await listAs(users.admin)).map((c) => c.id)).toContain(config.id);
  });

  it('soft-deletes: no longer listed or usable, while chats that used it keep their history', async () => {
    const config = await createConfig({ is_default: true });
    const chat = await api.request('POST', '/api/v1/chats', {
      token: users.member.token,
      body: { content: 'remember me', model_config_id: config.id },
    });
    expect(chat.status).toBe(201);

    expect((await api.request('DELETE', `${PATH}/${config.id}`, { token: users.admin.token })).status).toBe(
      204,
    );
    expect((await listAs(users.admin)).map((c) => c.id)).not.toContain(config.id);
    expect(await defaults()).toEqual([]);
    expect((await api.request('DELETE', `${PATH}/${config.id}`, { token: users.admin.token })).status).toBe(
      404,
    );
    const patch = await api.request('PATCH', `${PATH}/${config.id}`, {
      token: users.admin.token,
      body: { model: 'x' },
    });
    expect(patch.status).toBe(404);

    const detail = await api.request('GET', `/api/v1/chats/${chat.json.id}`, { token: users.member.token });
    expect(detail.json.chat.model_config_id).toBe(config.id);
    expect(detail.json.messages.map((m: { content: string }) => m.content)).toEqual(['remember me']);
  });
});

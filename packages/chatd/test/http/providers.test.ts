import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/secrets/secret-box.js';
import { useTestDatabase } from '../support/test-database.js';
import { createTestUsers, startTestApi, type TestApi, type TestUser } from './support/api-harness.js';

const db = useTestDatabase();
const secretBox = new SecretBox(randomBytes(32));
let api: TestApi;
let admin: TestUser;

beforeAll(async () => {
  api = await startTestApi(db.store, { secretBox });
  ({ admin } = await createTestUsers(db.store));
});
afterAll(() => api?.close());

const PATH = '/api/v1/chat/providers';

async function storedKey(id: string): Promise<Buffer | null> {
  const [row] = await db.sql<[{ apiKeyEncrypted: Buffer | null }]>`
    SELECT api_key_encrypted FROM chat_providers WHERE id = ${id}`;
  return row.apiKeyEncrypted;
}

describe('providers', () => {
  it('keeps the API key write-only: encrypted at rest, never in a response or a log line', async () => {
    const key = `sk-test-${randomBytes(12).toString('hex')}`;
    const created = await api.request('POST', PATH, {
      token: admin.token,
      body: { provider: 'openai', display_name: 'OpenAI', api_key: key },
    });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(String),
      provider: 'openai',
      display_name: 'OpenAI',
      base_url: null,
      enabled: true,
      has_api_key: true,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const id = created.json.id as string;

    // At rest: ciphertext that the deployment's key decrypts, not the key.
    const ciphertext = await storedKey(id);
    expect(ciphertext).not.toBeNull();
    expect(ciphertext!.toString('latin1')).not.toContain(key);
    expect(secretBox.decrypt(ciphertext!)).toBe(key);

    const listed = await api.request('GET', PATH, { token: admin.token });
    const renamed = await api.request('PATCH', `${PATH}/${id}`, {
      token: admin.token,
      body: { display_name: 'O' },
    });
    // A refused request that carries the key must not echo it either.
    const refused = await api.request('PATCH', `${PATH}/${id}`, {
      token: admin.token,
      body: { api_key: key, surprise: true },
    });
    expect(refused.status).toBe(400);
    expect(listed.json.providers.find((p: { id: string }) => p.id === id)).toMatchObject({
      has_api_key: true,
    });
    expect(renamed.json).toMatchObject({ display_name: 'O', has_api_key: true });

    for (const response of [created, listed, renamed, refused]) {
      expect(response.text).not.toContain(key);
      expect(response.text).not.toContain('api_key_encrypted');
      expect(response.text).not.toContain(ciphertext!.toString('base64'));
    }
    expect(api.logs.length).toBeGreaterThan(0);
    expect(api.logs.join('')).not.toContain(key);
  });

  it('replaces the key on PATCH and removes it with api_key: null', async () => {
    const created = await api.request('POST', PATH, {
      token: admin.token,
      body: { provider: 'anthropic', display_name: 'Claude', api_key: 'first-key' },
    });
    const id = created.json.id as string;

    const replaced = await api.request('PATCH', `${PATH}/${id}`, {
      token: admin.token,
      body: { api_key: 'second' },
    });
    expect(replaced.json.has_api_key).toBe(true);
    expect(secretBox.decrypt((await storedKey(id))!)).toBe('second');

    const untouched = await api.request('PATCH', `${PATH}/${id}`, {
      token: admin.token,
      body: { enabled: false },
    });
    expect(untouched.json).toMatchObject({ has_api_key: true, enabled: false });
    expect(secretBox.decrypt((await storedKey(id))!)).toBe('second');

    const cleared = await api.request('PATCH', `${PATH}/${id}`, {
      token: admin.token,
      body: { api_key: null },
    });
    expect(cleared.json.has_api_key).toBe(false);
    expect(await storedKey(id)).toBeNull();

    const empty = await api.request('PATCH', `${PATH}/${id}`, { token: admin.token, body: { api_key: '' } });
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toContain('api_key');
  });

  it('enforces the base URL rules of each kind with readable 400s', async () => {
    const post = (body: object) => api.request('POST', PATH, { token: admin.token, body });
    const noBaseUrl = await post({ provider: 'openai-compat', display_name: 'Local' });
    expect(noBaseUrl.status).toBe(400);
    expect(noBaseUrl.json.error).toEqual({
      code: 'E_INVALID_INPUT',
      message: expect.stringContaining('base_url'),
    });

    for (const baseUrl of ['ftp://models.example', 'not a url', '/relative', 'HTTP://shouting.example']) {
      const response = await post({ provider: 'openai-compat', display_name: 'L', base_url: baseUrl });
      expect(response.status, baseUrl).toBe(400);
      expect(response.json.error.message).toContain('base_url');
    }
    const withCredentials = await post({
      provider: 'openai-compat',
      display_name: 'L',
      base_url: 'https://user:pass@models.example/v1',
    });
    expect(withCredentials.status).toBe(400);
    expect(withCredentials.text).not.toContain('pass@');

    const local = await post({
      provider: 'openai-compat',
      display_name: 'Local',
      base_url: 'http://127.0.0.1:9/v1',
    });
    expect(local.status).toBe(201);
    expect(local.json).toMatchObject({ base_url: 'http://127.0.0.1:9/v1', has_api_key: false });
    const clear = await api.request('PATCH', `${PATH}/${local.json.id}`, {
      token: admin.token,
      body: { base_url: null },
    });
    expect(clear.status).toBe(400);
    const moved = await api.request('PATCH', `${PATH}/${local.json.id}`, {
      token: admin.token,
      body: { base_url: 'https://models.example/v1' },
    });
    expect(moved.json.base_url).toBe('https://models.example/v1');

    expect((await post({ provider: 'mystery', display_name: 'M' })).status).toBe(400);
    expect((await post({ provider: 'builtin', display_name: '   ' })).status).toBe(400);
  });

  it('deletes with 204, then answers 404 for that id', async () => {
    const created = await api.request('POST', PATH, {
      token: admin.token,
      body: { provider: 'builtin', display_name: 'B' },
    });
    const id = created.json.id as string;
    expect((await api.request('DELETE', `${PATH}/${id}`, { token: admin.token })).status).toBe(204);
    const listed = await api.request('GET', PATH, { token: admin.token });
    expect(listed.json.providers.map((p: { id: string }) => p.id)).not.toContain(id);
    expect((await api.request('DELETE', `${PATH}/${id}`, { token: admin.token })).status).toBe(404);
    const patched = await api.request('PATCH', `${PATH}/${id}`, {
      token: admin.token,
      body: { enabled: true },
    });
    expect(patched.status).toBe(404);
    expect(patched.json.error.code).toBe('E_NOT_FOUND');
  });
});

describe('provider base URL addresses', () => {
  const post = (baseUrl: string) =>
    api.request('POST', PATH, {
      token: admin.token,
      body: { provider: 'openai-compat', display_name: 'Addr', base_url: baseUrl, api_key: 'sk-addr' },
    });

  /** Link-local and cloud metadata addresses, literally and in the spellings URL parsing normalises. */
  const REFUSED = [
    'http://169.254.169.254/latest/meta-data/',
    'http://169.254.0.1:8080/v1',
    'https://169.254.255.255/v1',
    'http://2852039166/v1', // 169.254.169.254 as one decimal number
    'http://0xa9fea9fe/v1', // hex
    'http://0251.0376.0251.0376/v1', // octal parts
    'http://169.254.43518/v1', // the last two parts as one number
    'http://0xA9.0xFE.0xA9.0xFE/v1',
    'http://[fe80::1]/v1',
    'http://[FEBF:ffff::1]:8080/v1',
    'http://[::ffff:169.254.169.254]/v1', // IPv4-mapped
    'http://[::ffff:a9fe:a9fe]/v1',
    'http://[::169.254.169.254]/v1', // IPv4-compatible (deprecated)
    'http://[64:ff9b::169.254.169.254]/v1', // NAT64
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://METADATA.Google.Internal./v1', // case and a trailing dot
    'http://metadata/v1',
    'http://instance-data/latest/',
    'http://instance-data.ec2.internal/latest/',
    'http://100.100.100.200/latest/meta-data/', // Alibaba Cloud
    'http://[fd00:ec2::254]/latest/', // AWS over IPv6
    'http://[::ffff:100.100.100.200]/v1',
  ];

  it.each(REFUSED)('refuses %s on create and on update, with a clear 400', async (baseUrl) => {
    const created = await post(baseUrl);
    expect(created.status, created.text).toBe(400);
    expect(created.json.error).toEqual({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(/^base_url .*(link-local|metadata)/),
    });

    const allowed = await post('http://127.0.0.1:11434/v1');
    expect(allowed.status).toBe(201);
    const moved = await api.request('PATCH', `${PATH}/${allowed.json.id}`, {
      token: admin.token,
      body: { base_url: baseUrl },
    });
    expect(moved.status, moved.text).toBe(400);
    expect(moved.json.error.code).toBe('E_INVALID_INPUT');
    // The refused move changed nothing, the key included.
    const [row] = await db.sql<[{ baseUrl: string }]>`
      SELECT base_url FROM chat_providers WHERE id = ${allowed.json.id}`;
    expect(row.baseUrl).toBe('http://127.0.0.1:11434/v1');
    expect(await storedKey(allowed.json.id)).not.toBeNull();
  });

  /** Local model servers are a main use: loopback and private networks stay allowed. */
  const ALLOWED = [
    'http://127.0.0.1:11434/v1',
    'http://127.1.2.3/v1',
    'http://localhost:8080/v1',
    'http://[::1]:8080/v1',
    'http://10.0.0.5/v1',
    'http://172.16.0.1/v1',
    'http://172.31.255.254/v1',
    'http://192.168.1.10:1234/v1',
    'http://[fd12:3456::1]/v1',
    'http://[fc00::1]/v1',
    'http://100.100.100.201/v1',
    'http://169.255.0.1/v1',
    'http://[fec0::1]/v1',
    'https://api.example.com/v1',
    'http://models.internal:8000/v1',
  ];

  it.each(ALLOWED)('allows %s', async (baseUrl) => {
    const created = await post(baseUrl);
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ has_api_key: true });
  });
});

import type { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError, runChatTurn } from '../../src/llm/index.js';
import {
  ProviderAddressRefusedError,
  refusedAddressReason,
  refusedHostReason,
} from '../../src/llm/provider-address-policy.js';
import { createProviderFetch } from '../../src/llm/provider-fetch.js';
import { FAST_RETRIES, rejectionOf, turnRequest } from './turn-fixtures.js';

/** A stand-in for DNS: each name's answer, as `dns.lookup` with `all: true` gives it. */
const ZONE: Record<string, LookupAddress[]> = {
  'model.test': [{ address: '127.0.0.1', family: 4 }],
  'rebound.test': [{ address: '169.254.169.254', family: 4 }],
  'mixed.test': [
    { address: '127.0.0.1', family: 4 },
    { address: 'fe80::1', family: 6 },
  ],
  'mapped.test': [{ address: '::ffff:169.254.169.254', family: 6 }],
  'alibaba.test': [{ address: '100.100.100.200', family: 4 }],
};
const asked: string[] = [];
const fakeLookup = ((hostname: string, _options: unknown, callback: (...args: unknown[]) => void) => {
  asked.push(hostname);
  const answer = ZONE[hostname];
  if (answer) callback(null, answer);
  else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
}) as unknown as typeof dnsLookup;

let server: Server;
let port: number;
const seen: Array<{ url: string; authorization: string | undefined }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (req.url?.startsWith('/redirect')) {
      res.writeHead(302, { location: new URL(req.url, 'http://x').searchParams.get('to')! }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const guardedFetch = createProviderFetch({ lookup: fakeLookup });

/** The refusal a guarded call rejects with (undici reports it as the cause of "fetch failed"). */
async function refusal(url: string, init?: RequestInit): Promise<unknown> {
  const error = await guardedFetch(url, init).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error, url).toBeInstanceOf(TypeError);
  return (error as Error).cause;
}

describe('the address rule', () => {
  it.each([
    ['169.254.169.254', /metadata/],
    ['169.254.170.2', /metadata/],
    ['100.100.100.200', /metadata/],
    ['fd00:ec2::254', /metadata/],
    ['::ffff:169.254.169.254', /metadata/],
    ['::ffff:a9fe:a9fe', /metadata/],
    ['64:ff9b::a9fe:a9fe', /metadata/],
    ['::ffff:0:a9fe:a9fe', /metadata/],
    ['169.254.0.1', /link-local/],
    ['169.254.255.255', /link-local/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['febf:ffff::1', /link-local/],
    ['::ffff:169.254.1.1', /link-local/],
  ])('refuses %s', (address, reason) => {
    expect(refusedAddressReason(address)).toMatch(reason);
  });

  it.each([
    '127.0.0.1',
    '127.255.0.1',
    '::1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.0.1',
    'fd12::1',
    'fc00::1',
    'fec0::1',
    '169.253.255.255',
    '169.255.0.0',
    '100.100.100.201',
    '::ffff:127.0.0.1',
    '8.8.8.8',
    '2001:db8::1',
  ])('allows %s', (address) => {
    expect(refusedAddressReason(address)).toBeUndefined();
  });

  it('checks URL hosts: metadata names, bracketed IPv6, and names left to connect time', () => {
    for (const host of [
      'metadata',
      'metadata.google.internal',
      'METADATA.GOOGLE.INTERNAL.',
      'instance-data',
      'instance-data.ec2.internal',
    ]) {
      expect(refusedHostReason(host), host).toMatch(/metadata/);
    }
    expect(refusedHostReason(new URL('http://2852039166/').hostname)).toMatch(/169\.254\.169\.254/);
    expect(refusedHostReason(new URL('http://[::ffff:169.254.169.254]/').hostname)).toMatch(/metadata/);
    for (const host of ['localhost', 'api.openai.com', 'metadata.example.com', 'my-metadata', '[::1]']) {
      expect(refusedHostReason(host), host).toBeUndefined();
    }
  });
});

describe('the provider fetch', () => {
  it('connects to a name that resolves to an allowed address, and passes the request through', async () => {
    const response = await guardedFetch(`http://model.test:${port}/v1/chat`, {
      headers: { authorization: 'Bearer sk-fine' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ url: '/v1/chat', authorization: 'Bearer sk-fine' });
  });

  it('uses the real resolver by default: localhost is allowed', async () => {
    const response = await createProviderFetch()(`http://localhost:${port}/v1/real`);
    expect(response.status).toBe(200);
  });

  it.each([
    ['rebound.test', /rebound\.test resolves to 169\.254\.169\.254 is a cloud metadata address/],
    ['mixed.test', /mixed\.test resolves to fe80::1 is a link-local address/],
    ['mapped.test', /metadata/],
    ['alibaba.test', /metadata/],
  ])('refuses %s at connect time, before anything is sent', async (host, message) => {
    const before = seen.length;
    const cause = await refusal(`http://${host}:${port}/v1/chat`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-secret' },
      body: '{}',
    });
    expect(cause).toBeInstanceOf(ProviderAddressRefusedError);
    expect((cause as Error).message).toMatch(message);
    expect(seen.length).toBe(before);
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://2852039166/',
    'http://[fe80::1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://metadata.google.internal/computeMetadata/v1/',
  ])('refuses the literal %s without connecting (no connect timeout)', async (url) => {
    const startedAt = Date.now();
    const cause = await refusal(url);
    expect(cause).toBeInstanceOf(ProviderAddressRefusedError);
    expect(Date.now() - startedAt).toBeLessThan(1_000);
  });

  it('refuses a redirect to a metadata address', async () => {
    const target = encodeURIComponent('http://169.254.169.254/latest/meta-data/');
    const cause = await refusal(`http://model.test:${port}/redirect?to=${target}`, {
      headers: { authorization: 'Bearer sk-secret' },
    });
    expect(cause).toBeInstanceOf(ProviderAddressRefusedError);
    // The redirect to a name is resolved through the guarded lookup as well.
    const toName = encodeURIComponent(`http://rebound.test:${port}/`);
    expect(await refusal(`http://model.test:${port}/redirect?to=${toName}`)).toBeInstanceOf(
      ProviderAddressRefusedError,
    );
    expect(asked).toContain('rebound.test');
  });

  it('passes resolver failures through as they are', async () => {
    const cause = await refusal(`http://nowhere.test:${port}/`);
    expect(cause).toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('a chat turn', () => {
  it.each(['openai-compat', 'openai', 'anthropic'] as const)(
    'on a %s provider at a metadata address fails at once, readable and not retried',
    async (kind) => {
      const { request } = turnRequest({
        kind,
        apiKey: 'sk-never-sent',
        baseUrl: 'http://169.254.169.254/v1',
      });
      const error = await rejectionOf(runChatTurn(request, FAST_RETRIES));
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ retryable: false, attempts: 1 });
      expect((error as Error).message).toBe(
        `${kind} connection refused: chatd does not connect providers to link-local or cloud metadata addresses: 169.254.169.254 is a cloud metadata address`,
      );
    },
  );
});

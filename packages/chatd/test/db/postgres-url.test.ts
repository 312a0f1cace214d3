import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeUrl } from '../../src/db/connection.js';
import {
  firstHostUrl,
  listenerUrlFor,
  redact,
  resolvePostgresUrl,
  withDatabaseName,
  withSingleHost,
} from '../../src/db/postgres-url.js';
import { InvalidPostgresUrlError } from '../../src/errors.js';

const BASE = 'postgres://chatd:s3cret@db.example:5432/chatd';
const NO_ENV = {};

let dir: string;
let ca: string;
let cert: string;
let key: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'chatd-pgurl-'));
  ca = path.join(dir, 'ca.pem');
  cert = path.join(dir, 'client.pem');
  key = path.join(dir, 'client.key');
  await writeFile(ca, 'CA');
  await writeFile(cert, 'CERT');
  await writeFile(key, 'KEY');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ssl(url: string, env: NodeJS.ProcessEnv = NO_ENV): tls.ConnectionOptions {
  const resolved = resolvePostgresUrl(url, env);
  if (typeof resolved.ssl !== 'object') throw new Error(`expected TLS options, got ${String(resolved.ssl)}`);
  return resolved.ssl;
}

function invalid(url: string, env: NodeJS.ProcessEnv = NO_ENV): InvalidPostgresUrlError {
  try {
    resolvePostgresUrl(url, env);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPostgresUrlError);
    expect((error as InvalidPostgresUrlError).code).toBe('E_POSTGRES_URL');
    return error as InvalidPostgresUrlError;
  }
  throw new Error('expected an InvalidPostgresUrlError');
}

describe('resolvePostgresUrl: sslmode', () => {
  it('defaults to prefer, as libpq does, and leaves a URL without parameters alone', () => {
    const resolved = resolvePostgresUrl(BASE, NO_ENV);
    expect(resolved.sslMode).toBe('prefer');
    expect(resolved.ssl).toBe('prefer');
    expect(resolved.url).toBe(BASE);
  });

  it('disable turns TLS off and ignores the files', () => {
    const resolved = resolvePostgresUrl(`${BASE}?sslmode=disable&sslrootcert=/does/not/exist`, NO_ENV);
    expect(resolved.ssl).toBe(false);
    expect(resolved.url).toBe(BASE);
  });

  it('allow behaves as prefer', () => {
    expect(resolvePostgresUrl(`${BASE}?sslmode=allow`, NO_ENV).ssl).toBe('prefer');
  });

  it('require without sslrootcert encrypts without verifying', () => {
    const options = ssl(`${BASE}?sslmode=require`);
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.ca).toBeUndefined();
  });

  it("require with sslrootcert verifies the chain, not the host name (libpq's verify-ca)", () => {
    const options = ssl(`${BASE}?sslmode=require&sslrootcert=${ca}`);
    expect(options.rejectUnauthorized).toBe(true);
    expect(String(options.ca)).toBe('CA');
    expect(options.checkServerIdentity?.('anything', {} as tls.PeerCertificate)).toBeUndefined();
  });

  it('verify-ca verifies the chain only', () => {
    const options = ssl(`${BASE}?sslmode=verify-ca&sslrootcert=${ca}`);
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.checkServerIdentity?.('anything', {} as tls.PeerCertificate)).toBeUndefined();
  });

  it('verify-full checks the host name against the host dialled', () => {
    const options = ssl(`${BASE}?sslmode=verify-full&sslrootcert=${ca}`);
    expect(options.rejectUnauthorized).toBe(true);
    const peer = { subject: { CN: 'db.example' }, subjectaltname: 'DNS:db.example' } as tls.PeerCertificate;
    const check = options.checkServerIdentity!;
    expect(check.call({ socket: { host: 'db.example' } }, 'localhost', peer)).toBeUndefined();
    expect(check.call({ socket: { host: '127.0.0.1' } }, 'localhost', peer)).toBeInstanceOf(Error);
    expect(check.call(undefined, 'db.example', peer)).toBeUndefined();
  });

  it('verify-ca and verify-full need sslrootcert', () => {
    for (const mode of ['verify-ca', 'verify-full']) {
      const error = invalid(`${BASE}?sslmode=${mode}`);
      expect(error.message).toContain(`sslmode=${mode} needs sslrootcert`);
      expect(error.message).toContain('sslrootcert=system');
    }
  });

  it('sslrootcert=system implies verify-full with the default CAs, and refuses a weaker mode', () => {
    const resolved = resolvePostgresUrl(`${BASE}?sslrootcert=system`, NO_ENV);
    expect(resolved.sslMode).toBe('verify-full');
    expect((resolved.ssl as tls.ConnectionOptions).ca).toBeUndefined();
    expect((resolved.ssl as tls.ConnectionOptions).rejectUnauthorized).toBe(true);
    expect(invalid(`${BASE}?sslrootcert=system&sslmode=require`).message).toContain('verify-full');
  });

  it('rejects an unknown sslmode, naming the valid ones', () => {
    expect(invalid(`${BASE}?sslmode=on`).message).toMatch(/sslmode=on; use one of disable, allow, prefer/);
  });

  it('reads sslmode and the files from the environment when the URL lacks them', () => {
    const resolved = resolvePostgresUrl(BASE, { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: ca });
    expect(resolved.sslMode).toBe('verify-ca');
    expect(resolvePostgresUrl(`${BASE}?sslmode=disable`, { PGSSLMODE: 'verify-ca' }).ssl).toBe(false);
  });
});

describe('resolvePostgresUrl: files and client certificates', () => {
  it('loads a client certificate and key, with the key passphrase', () => {
    const options = ssl(`${BASE}?sslmode=require&sslcert=${cert}&sslkey=${key}&sslpassword=pw`);
    expect(String(options.cert)).toBe('CERT');
    expect(String(options.key)).toBe('KEY');
    expect(options.passphrase).toBe('pw');
  });

  it('needs both sslcert and sslkey', () => {
    expect(invalid(`${BASE}?sslmode=require&sslcert=${cert}`).message).toContain('only sslcert');
  });

  it('names the parameter, the file and the mode when a file is missing, never the password', () => {
    const message = invalid(`${BASE}?sslmode=verify-full&sslrootcert=/nope/ca.pem&sslpassword=hush`).message;
    expect(message).toContain('sslrootcert=/nope/ca.pem');
    expect(message).toContain('sslmode=verify-full');
    expect(message).toContain('ENOENT');
    expect(message).not.toContain('s3cret');
    expect(message).not.toContain('hush');
  });

  it('refuses files with prefer or allow (postgres.js cannot verify and fall back)', () => {
    expect(invalid(`${BASE}?sslrootcert=${ca}`).message).toContain('sslmode=prefer cannot be combined');
  });
});

describe('resolvePostgresUrl: what reaches postgres.js', () => {
  it('removes every libpq TLS parameter and keeps real settings and postgres.js options', () => {
    const resolved = resolvePostgresUrl(
      `${BASE}?sslmode=verify-ca&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}&sslpassword=pw` +
        '&application_name=x&target_session_attrs=read-write',
      NO_ENV,
    );
    expect(resolved.url).toBe(`${BASE}?application_name=x&target_session_attrs=read-write`);
    expect(resolved.targetSessionAttrs).toBe('read-write');
  });

  it('drops weak values of unsupported libpq parameters and refuses the others', () => {
    expect(resolvePostgresUrl(`${BASE}?channel_binding=prefer&gssencmode=disable`, NO_ENV).url).toBe(BASE);
    expect(invalid(`${BASE}?channel_binding=require`).message).toContain('channel_binding=require');
    expect(invalid(`${BASE}?sslcrl=/x`).message).toContain('sslcrl=/x');
  });
});

describe('hosts', () => {
  it('parses a multi-host URL in order, with default ports', () => {
    const resolved = resolvePostgresUrl('postgres://u:p@h1:5433,h2,[::1]:6000/db?sslmode=disable', NO_ENV);
    expect(resolved.hosts).toEqual([
      { host: 'h1', port: 5433 },
      { host: 'h2', port: 5432 },
      { host: '::1', port: 6000 },
    ]);
    expect(resolvePostgresUrl('postgres://u@/db', NO_ENV).hosts).toEqual([{ host: 'localhost', port: 5432 }]);
  });

  it('aims a URL at one host, and the listener URL drops target_session_attrs', () => {
    const url = 'postgres://u:p%40@h1:5433,h2:5434/db?target_session_attrs=read-write&application_name=a';
    expect(withSingleHost(url, { host: 'h2', port: 5434 })).toBe(
      'postgres://u:p%40@h2:5434/db?target_session_attrs=read-write&application_name=a',
    );
    const resolved = resolvePostgresUrl(url, NO_ENV);
    expect(listenerUrlFor(resolved, resolved.hosts[1]!)).toBe(
      'postgres://u:p%40@h2:5434/db?application_name=a',
    );
  });
});

describe('redact', () => {
  it('removes the password and sslpassword, multi-host URLs included', () => {
    expect(redact('postgres://chatd:s3cret@h1:1,h2:2/db?sslpassword=hush&sslmode=require')).toBe(
      'postgres://chatd@h1:1,h2:2/db?sslpassword=redacted&sslmode=require',
    );
    expect(describeUrl(BASE)).toBe('postgres://chatd@db.example:5432/chatd');
    expect(redact('not a url')).toBe('(unparseable URL)');
  });
});

describe('multi-host URL helpers', () => {
  it('cuts the host list for new URL(), and swaps the database keeping hosts and parameters', () => {
    const url = 'postgres://u:p@h1:1,h2:2/db?target_session_attrs=read-write';
    expect(new URL(firstHostUrl(url)).host).toBe('h1:1');
    expect(withDatabaseName(url, 'other')).toBe(
      'postgres://u:p@h1:1,h2:2/other?target_session_attrs=read-write',
    );
    expect(withDatabaseName('postgres://u@h/db', 'x')).toBe('postgres://u@h/x');
  });
});

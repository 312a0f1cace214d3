import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Sql } from '../../src/db/connection.js';
import { EmbeddedPostgres } from '../../src/db/embedded/embedded-postgres.js';
import { DatabaseUnavailableError } from '../../src/errors.js';
import { PostgresPubsub } from '../../src/pubsub/postgres-pubsub.js';
import { recorder, waitFor } from '../pubsub/helpers.js';
import { createTestPki, type TestPki, writeTlsOnlyHba } from '../support/tls-fixtures.js';

/**
 * A PostgreSQL of its own with TLS on (a CA and a server certificate for `localhost`, generated here) and a
 * pg_hba.conf that accepts TLS connections only; the suite's shared cluster has no TLS.
 */
let baseDir: string;
let server: EmbeddedPostgres;
let pki: TestPki;
let password: string;

beforeAll(async () => {
  baseDir = await mkdtemp(path.join(tmpdir(), 'chatd-tls-'));
  const tlsDir = path.join(baseDir, 'tls');
  await mkdir(tlsDir, { mode: 0o755 });
  pki = await createTestPki(tlsDir);
  const hbaFile = await writeTlsOnlyHba(tlsDir);
  server = await EmbeddedPostgres.start({
    baseDir,
    settings: {
      fsync: 'off',
      max_connections: '50',
      ssl: 'on',
      ssl_cert_file: pki.serverCert,
      ssl_key_file: pki.serverKey,
      ssl_ca_file: pki.caCert,
      hba_file: hbaFile,
    },
  });
  password = new URL(server.connectionUrl()).password;
  const admin = await connectDatabase(url('127.0.0.1', 'sslmode=require'), { maxConnections: 1 });
  await admin.unsafe('CREATE DATABASE clientcert_db');
  await admin.end();
});

afterAll(async () => {
  await server?.stop();
  if (baseDir) await rm(baseDir, { recursive: true, force: true });
});

function url(host: string, query: string, database = 'postgres'): string {
  return `postgres://chatd:${encodeURIComponent(password)}@${host}:${server.port}/${database}?${query}`;
}

async function usesTls(connectionUrl: string): Promise<boolean> {
  const sql: Sql = await connectDatabase(connectionUrl, { maxConnections: 1 });
  try {
    const [row] = await sql<[{ ssl: boolean }]>`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
    return row!.ssl;
  } finally {
    await sql.end();
  }
}

async function connectError(connectionUrl: string): Promise<DatabaseUnavailableError> {
  const error = await connectDatabase(connectionUrl, { maxConnections: 1 }).then(
    async (sql) => {
      await sql.end();
      throw new Error('expected the connection to fail');
    },
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(DatabaseUnavailableError);
  const message = (error as Error).message;
  expect(message).not.toContain(password);
  return error as DatabaseUnavailableError;
}

describe('TLS from the URL, with libpq semantics', () => {
  it('verify-full connects with the right CA and host name', async () => {
    expect(await usesTls(url('localhost', `sslmode=verify-full&sslrootcert=${pki.caCert}`))).toBe(true);
  });

  it('verify-full fails with a wrong CA, naming the mode and the CA file', async () => {
    const { message } = await connectError(
      url('localhost', `sslmode=verify-full&sslrootcert=${pki.otherCaCert}`),
    );
    expect(message).toContain('sslmode=verify-full');
    expect(message).toContain(pki.otherCaCert);
  });

  it('verify-full fails when the certificate does not name the host (127.0.0.1 is not in it)', async () => {
    const { message } = await connectError(url('127.0.0.1', `sslmode=verify-full&sslrootcert=${pki.caCert}`));
    expect(message).toContain('does not name the host');
    expect(message).toContain('sslmode=verify-full');
  });

  it('verify-ca checks the chain but not the host name', async () => {
    expect(await usesTls(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${pki.caCert}`))).toBe(true);
    const { message } = await connectError(
      url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${pki.otherCaCert}`),
    );
    expect(message).toContain('sslmode=verify-ca');
  });

  it('require encrypts without verification when there is no sslrootcert, and verifies the CA when there is', async () => {
    expect(await usesTls(url('127.0.0.1', 'sslmode=require'))).toBe(true);
    await connectError(url('127.0.0.1', `sslmode=require&sslrootcert=${pki.otherCaCert}`));
    expect(await usesTls(url('127.0.0.1', `sslmode=require&sslrootcert=${pki.caCert}`))).toBe(true);
  });

  it('prefer (the default) uses TLS when the server offers it', async () => {
    expect(await usesTls(url('127.0.0.1', 'application_name=chatd-tls-test'))).toBe(true);
  });

  it('disable does not use TLS, so a hostssl-only server refuses it', async () => {
    const { message } = await connectError(url('127.0.0.1', 'sslmode=disable'));
    expect(message).toMatch(/no encryption/);
  });

  it('presents the client certificate from sslcert/sslkey when the server demands one', async () => {
    const files = `sslrootcert=${pki.caCert}&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`;
    expect(await usesTls(url('localhost', `sslmode=verify-full&${files}`, 'clientcert_db'))).toBe(true);
    await connectError(url('localhost', `sslmode=verify-full&sslrootcert=${pki.caCert}`, 'clientcert_db'));
  });

  it('sends no libpq parameter to the server as a setting (no 42704), and keeps real settings', async () => {
    const sql = await connectDatabase(
      url(
        'localhost',
        `sslmode=verify-full&sslrootcert=${pki.caCert}&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`,
      ),
      { maxConnections: 1, applicationName: 'chatd-tls-settings' },
    );
    try {
      const [row] = await sql<[{ name: string }]>`SELECT current_setting('application_name') AS name`;
      expect(row!.name).toBe('chatd-tls-settings');
    } finally {
      await sql.end();
    }
  });

  it('the pubsub listener and publisher use the same TLS options', async () => {
    const pubsub = await PostgresPubsub.connect(
      url('localhost', `sslmode=verify-full&sslrootcert=${pki.caCert}`),
    );
    try {
      const { payloads, handler } = recorder();
      await pubsub.subscribe('tls_test', handler);
      await pubsub.publish('tls_test', 'over tls');
      await waitFor(() => payloads.length === 1, 'the notification over TLS');
      expect(payloads).toEqual(['over tls']);
    } finally {
      await pubsub.close();
    }
    const failure = await PostgresPubsub.connect(
      url('127.0.0.1', `sslmode=verify-full&sslrootcert=${pki.caCert}`),
    ).then(
      async (connected) => {
        await connected.close();
        throw new Error('expected the listener to refuse the host name');
      },
      (error: unknown) => error as Error,
    );
    expect(failure).toBeInstanceOf(DatabaseUnavailableError);
    expect(failure.message).toContain('does not name the host');
    expect(failure.message).not.toContain(password);
  });
});

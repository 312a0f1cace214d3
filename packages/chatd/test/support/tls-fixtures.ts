import { execFile } from 'node:child_process';
import { chmod, chown, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolvePostgresRunAs } from '../../src/db/embedded/system-user.js';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

/** PEM files of a throwaway PKI, generated with the openssl CLI. */
export interface TestPki {
  /** The CA that signed the server and client certificates. */
  readonly caCert: string;
  /** Another CA, which signed nothing chatd sees. */
  readonly otherCaCert: string;
  /** The server certificate: CN and SAN `localhost` only (no IP SAN, so 127.0.0.1 is a host mismatch). */
  readonly serverCert: string;
  /** The server key: owned by the user PostgreSQL runs as, mode 0600 (PostgreSQL refuses anything else). */
  readonly serverKey: string;
  /** A client certificate (CN `chatd`) and key, signed by the CA. */
  readonly clientCert: string;
  readonly clientKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run(OPENSSL, args, { cwd });
}

async function createCa(dir: string, name: string): Promise<void> {
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ]),
    dir,
  );
}

async function createSigned(
  dir: string,
  name: string,
  cn: string,
  ca: string,
  extensions: string,
): Promise<void> {
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ],
    dir,
  );
  await writeFile(path.join(dir, `${name}.ext`), `${extensions}\n`);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
    ].concat(['-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]),
    dir,
  );
}

/** Generates a CA, a second CA, a server and a client certificate under `dir` (about a second). */
export async function createTestPki(dir: string): Promise<TestPki> {
  await Promise.all([createCa(dir, 'ca'), createCa(dir, 'other-ca')]);
  await Promise.all([
    createSigned(dir, 'server', 'localhost', 'ca', 'subjectAltName=DNS:localhost'),
    createSigned(dir, 'client', 'chatd', 'ca', 'extendedKeyUsage=clientAuth'),
  ]);
  const serverKey = path.join(dir, 'server.key');
  await chmod(serverKey, 0o600);
  // As root, PostgreSQL runs as the postgres system user, which must own its key (and read the rest).
  const runAs = await resolvePostgresRunAs();
  if (runAs) {
    for (const file of ['server.key', 'server.crt', 'ca.crt']) {
      await chown(path.join(dir, file), runAs.uid, runAs.gid);
    }
  }
  return {
    caCert: path.join(dir, 'ca.crt'),
    otherCaCert: path.join(dir, 'other-ca.crt'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey,
    clientCert: path.join(dir, 'client.crt'),
    clientKey: path.join(dir, 'client.key'),
  };
}

/**
 * Writes a pg_hba.conf that accepts TLS connections only (`hostssl`), and requires a client certificate
 * signed by the CA for the database `clientcert_db`; returns its path (for the `hba_file` setting).
 */
export async function writeTlsOnlyHba(dir: string): Promise<string> {
  const file = path.join(dir, 'pg_hba.conf');
  await writeFile(
    file,
    [
      'hostssl clientcert_db all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca',
      'hostssl clientcert_db all ::1/128 scram-sha-256 clientcert=verify-ca',
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostssl all all ::1/128 scram-sha-256',
      '',
    ].join('\n'),
  );
  const runAs = await resolvePostgresRunAs();
  if (runAs) await chown(file, runAs.uid, runAs.gid);
  return file;
}

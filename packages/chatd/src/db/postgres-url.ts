/**
 * libpq's meaning for the connection parameters postgres.js does not understand.
 *
 * postgres.js sends every URL query parameter it does not know to the server as a setting, so
 * `?sslrootcert=/path` fails with 42704 (unrecognized configuration parameter), and it maps `sslmode` to
 * its own `ssl` option with other semantics (`require` never verifies, `verify-full` trusts only Node's
 * bundled CAs and checks an IP host against the name `localhost`). {@link resolvePostgresUrl} takes the
 * libpq TLS parameters out of the URL and turns them into postgres.js's `ssl` option (a
 * `tls.ConnectionOptions`), with libpq's semantics (PostgreSQL docs, "SSL Mode Descriptions"):
 *
 * | sslmode     | TLS                          | chain checked against sslrootcert | host name checked |
 * |-------------|------------------------------|-----------------------------------|-------------------|
 * | disable     | never                        | -                                 | -                 |
 * | allow       | if the server offers it (*)  | no                                | no                |
 * | prefer      | if the server offers it      | no                                | no                |
 * | require     | always                       | only when sslrootcert is given    | no                |
 * | verify-ca   | always                       | yes (sslrootcert required)        | no                |
 * | verify-full | always                       | yes (sslrootcert required)        | yes               |
 *
 * (*) libpq's `allow` tries without TLS first; postgres.js cannot retry a refused plaintext connection
 * with TLS, so `allow` behaves as `prefer` (both are unverified; `prefer` is also libpq's default).
 * `sslrootcert=system` uses the system's trusted roots (Node's bundled store) and, as in libpq, implies
 * `verify-full`; a weaker `sslmode` with it is an error. `sslcert`/`sslkey` (and `sslpassword` for an
 * encrypted key) present a client certificate. libpq's default files under `~/.postgresql/` are not read.
 *
 * The files are read once, when the pool is created (so a rotated certificate takes a restart), and a
 * missing file fails then, with the parameter, the file and the mode in the message.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { InvalidPostgresUrlError } from '../errors.js';

/** libpq's `sslmode` values. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
/** One of {@link SSL_MODES}. */
export type SslMode = (typeof SSL_MODES)[number];

/** postgres.js's `ssl` option as chatd sets it. */
export type PostgresSsl = false | 'prefer' | tls.ConnectionOptions;

/** One host of a (possibly multi-host) URL. */
export interface PostgresHost {
  readonly host: string;
  readonly port: number;
}

/** A connection URL with its libpq parameters resolved; frozen. */
export interface ResolvedPostgresUrl {
  /** The URL for postgres.js: every parameter chatd handles removed. Contains the password: never log it. */
  readonly url: string;
  /** The URL without password or sslpassword, for logs and error messages. */
  readonly description: string;
  /** The effective sslmode (`prefer` when the URL and PGSSLMODE say nothing, as in libpq). */
  readonly sslMode: SslMode;
  /** The `ssl` option for postgres.js. */
  readonly ssl: PostgresSsl;
  /** The sslrootcert path (or `system`), when given: for error messages. */
  readonly sslRootCert: string | undefined;
  /** The hosts in URL order (one for an ordinary URL). */
  readonly hosts: readonly PostgresHost[];
  /** `target_session_attrs` when given (postgres.js applies it to its pools; the listener checks it itself). */
  readonly targetSessionAttrs: string | undefined;
}

/** The libpq TLS parameters chatd implements, and the environment variables libpq reads for them. */
const TLS_PARAMETERS = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslpassword: undefined,
} as const;

/**
 * libpq parameters that are not server settings and that chatd does not implement: postgres.js would send
 * them to the server (42704). `channel_binding=require` and `gssencmode=require` ask for something the
 * driver cannot do, so they fail here; their weaker values are dropped.
 */
const UNSUPPORTED_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  sslcrl: [],
  sslcrldir: [],
  sslsni: ['1'],
  sslcompression: ['0'],
  ssl_min_protocol_version: [],
  ssl_max_protocol_version: [],
  sslcertmode: ['disable', 'allow'],
  requiressl: [],
  channel_binding: ['disable', 'prefer'],
  gssencmode: ['disable', 'prefer'],
  gssdelegation: ['0'],
  krbsrvname: [],
  require_auth: [],
  passfile: [],
  service: [],
  hostaddr: [],
  load_balance_hosts: ['disable'],
};

/**
 * Splits the libpq parameters out of `url` and resolves them (see the file comment). `env` supplies
 * PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY when the URL lacks them, as libpq does.
 * Throws {@link InvalidPostgresUrlError} for an invalid mode, an unreadable file, or an unsupported parameter.
 */
export function resolvePostgresUrl(url: string, env: NodeJS.ProcessEnv = process.env): ResolvedPostgresUrl {
  const { base, params, fragment } = splitQuery(url);
  const description = redact(url);
  const given: Partial<Record<keyof typeof TLS_PARAMETERS, string>> = {};
  for (const [name, variable] of Object.entries(TLS_PARAMETERS) as [keyof typeof TLS_PARAMETERS, string?][]) {
    const value = params.get(name) ?? (variable ? env[variable] : undefined);
    params.delete(name);
    if (value !== undefined && value !== '') given[name] = value;
  }
  for (const [name, allowed] of Object.entries(UNSUPPORTED_PARAMETERS)) {
    const value = params.get(name);
    if (value === null) continue;
    if (!allowed.includes(value)) {
      throw new InvalidPostgresUrlError(
        `the PostgreSQL URL ${description} sets ${name}=${value}, which chatd does not support` +
          (allowed.length > 0
            ? ` (remove it, or use ${allowed.map((v) => `${name}=${v}`).join(' or ')})`
            : ' (remove it)'),
      );
    }
    params.delete(name);
  }
  const rootCert = given.sslrootcert;
  const sslMode = parseSslMode(
    given.sslmode ?? (rootCert === 'system' ? 'verify-full' : 'prefer'),
    description,
  );
  const context: TlsContext = { description, sslMode };
  if (rootCert === 'system' && sslMode !== 'verify-full' && sslMode !== 'disable') {
    throw new InvalidPostgresUrlError(
      `sslrootcert=system needs sslmode=verify-full (as in libpq), but ${description} has sslmode=${sslMode}`,
    );
  }
  const query = params.toString();
  return Object.freeze({
    url: `${base}${query ? `?${query}` : ''}${fragment}`,
    description,
    sslMode,
    ssl: buildSsl(given, context),
    sslRootCert: rootCert,
    hosts: Object.freeze(parseHosts(base, params.get('port'))),
    targetSessionAttrs: params.get('target_session_attrs') ?? env.PGTARGETSESSIONATTRS ?? undefined,
  });
}

interface TlsContext {
  readonly description: string;
  readonly sslMode: SslMode;
}

function parseSslMode(value: string, description: string): SslMode {
  if ((SSL_MODES as readonly string[]).includes(value)) return value as SslMode;
  throw new InvalidPostgresUrlError(
    `the PostgreSQL URL ${description} has sslmode=${value}; use one of ${SSL_MODES.join(', ')}`,
  );
}

function buildSsl(
  given: Partial<Record<keyof typeof TLS_PARAMETERS, string>>,
  context: TlsContext,
): PostgresSsl {
  const { sslMode } = context;
  if (sslMode === 'disable') return false;
  const rootCert = given.sslrootcert;
  const hasFiles = rootCert !== undefined || given.sslcert !== undefined || given.sslkey !== undefined;
  if (sslMode === 'allow' || sslMode === 'prefer') {
    // postgres.js falls back to plaintext only for its string 'prefer', which takes no CA or client cert.
    if (hasFiles) {
      throw new InvalidPostgresUrlError(
        `sslmode=${sslMode} cannot be combined with sslrootcert, sslcert or sslkey in chatd (${context.description}); ` +
          'use sslmode=require, verify-ca or verify-full',
      );
    }
    return 'prefer';
  }
  if ((given.sslcert === undefined) !== (given.sslkey === undefined)) {
    throw new InvalidPostgresUrlError(
      `a client certificate needs both sslcert and sslkey, but ${context.description} has only ${given.sslcert ? 'sslcert' : 'sslkey'}`,
    );
  }
  const verifyChain = sslMode !== 'require' || rootCert !== undefined; // libpq: require + root CA = verify-ca
  if (verifyChain && rootCert === undefined) {
    throw new InvalidPostgresUrlError(
      `sslmode=${sslMode} needs sslrootcert (the CA that signed the server's certificate) in ${context.description}; ` +
        'pass sslrootcert=/path/to/ca.pem, or sslrootcert=system to trust the system CAs',
    );
  }
  const options: tls.ConnectionOptions = { rejectUnauthorized: verifyChain };
  if (rootCert !== undefined && rootCert !== 'system')
    options.ca = readTlsFile('sslrootcert', rootCert, context);
  if (given.sslcert !== undefined && given.sslkey !== undefined) {
    options.cert = readTlsFile('sslcert', given.sslcert, context);
    options.key = readTlsFile('sslkey', given.sslkey, context);
    if (given.sslpassword !== undefined) options.passphrase = given.sslpassword;
  }
  if (sslMode === 'verify-full') {
    // Node checks the name it got as `servername`, and postgres.js sets none for an IP address (so Node
    // would check `localhost`). tls.connect calls this as a method of its options, whose `socket` is the
    // raw socket postgres.js (or the listener session) connected and tagged with the host it dialled.
    options.checkServerIdentity = function checkHost(
      this: { socket?: { host?: unknown } } | undefined,
      hostname,
      cert,
    ) {
      const dialled = this?.socket?.host;
      return tls.checkServerIdentity(typeof dialled === 'string' && dialled ? dialled : hostname, cert);
    };
  } else if (verifyChain) {
    options.checkServerIdentity = () => undefined; // verify-ca (or require with a root CA): the chain only
  }
  return Object.freeze(options);
}

function readTlsFile(parameter: string, file: string, context: TlsContext): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new InvalidPostgresUrlError(
      `cannot read ${parameter}=${file} (sslmode=${context.sslMode}, ${context.description}): ${reason}`,
      { cause: error },
    );
  }
}

/** The URL before `?`, its query parameters, and any `#fragment`. */
function splitQuery(url: string): { base: string; params: URLSearchParams; fragment: string } {
  const hash = url.indexOf('#');
  const fragment = hash === -1 ? '' : url.slice(hash);
  const withoutFragment = hash === -1 ? url : url.slice(0, hash);
  const question = withoutFragment.indexOf('?');
  if (question === -1) return { base: withoutFragment, params: new URLSearchParams(), fragment };
  return {
    base: withoutFragment.slice(0, question),
    params: new URLSearchParams(withoutFragment.slice(question + 1)),
    fragment,
  };
}

/** `scheme://`, the user info (without `@`), the host list, and the rest, as postgres.js splits them. */
function splitAuthority(url: string): {
  scheme: string;
  userInfo: string | undefined;
  hosts: string;
  rest: string;
} {
  const schemeEnd = url.indexOf('://');
  const scheme = schemeEnd === -1 ? '' : url.slice(0, schemeEnd + 3);
  const afterScheme = url.slice(scheme.length);
  const authorityEnd = afterScheme.search(/[/?#]/);
  const authority = authorityEnd === -1 ? afterScheme : afterScheme.slice(0, authorityEnd);
  const rest = authorityEnd === -1 ? '' : afterScheme.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  return {
    scheme,
    userInfo: at === -1 ? undefined : authority.slice(0, at),
    hosts: at === -1 ? authority : authority.slice(at + 1),
    rest,
  };
}

function parseHosts(base: string, portParameter: string | null): PostgresHost[] {
  const { hosts } = splitAuthority(base);
  const defaultPort = Number(portParameter) || 5432;
  return decodeURIComponent(hosts)
    .split(',')
    .map((entry) => {
      // [v6]:port, v6 alone, host:port or host
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
      if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2] ?? defaultPort) };
      if (net.isIPv6(entry)) return { host: entry, port: defaultPort };
      const colon = entry.lastIndexOf(':');
      if (colon === -1) return { host: entry || 'localhost', port: defaultPort };
      return {
        host: entry.slice(0, colon) || 'localhost',
        port: Number(entry.slice(colon + 1)) || defaultPort,
      };
    });
}

/**
 * The same URL aimed at one host of its host list (for the listener, which picks the host itself).
 * `url` should be a {@link ResolvedPostgresUrl.url}.
 */
export function withSingleHost(url: string, host: PostgresHost): string {
  const { scheme, userInfo, rest } = splitAuthority(url);
  const hostPart = net.isIPv6(host.host) ? `[${host.host}]` : host.host;
  return `${scheme}${userInfo === undefined ? '' : `${userInfo}@`}${hostPart}:${host.port}${rest}`;
}

/**
 * The URL the pubsub listener uses for one host of `resolved`: that host only, and no
 * `target_session_attrs` (the listener picks the host and checks the session itself, so that a skipped
 * host has a readable reason instead of a connection postgres.js closes during start-up).
 */
export function listenerUrlFor(resolved: ResolvedPostgresUrl, host: PostgresHost): string {
  const { base, params, fragment } = splitQuery(resolved.url);
  params.delete('target_session_attrs');
  const query = params.toString();
  return withSingleHost(`${base}${query ? `?${query}` : ''}${fragment}`, host);
}

/**
 * `url` with its host list cut to the first host, so that WHATWG `new URL()` (which rejects
 * `h1:5432,h2:5433`) can check and read the rest; postgres.js parses multi-host URLs the same way.
 */
export function firstHostUrl(url: string): string {
  const { scheme, userInfo, hosts, rest } = splitAuthority(url);
  const first = hosts.split(',')[0] ?? '';
  return `${scheme}${userInfo === undefined ? '' : `${userInfo}@`}${first}${rest}`;
}

/** The same connection URL (multi-host or not) with another database name. */
export function withDatabaseName(url: string, database: string): string {
  const { scheme, userInfo, hosts, rest } = splitAuthority(url);
  const { params, fragment } = splitQuery(rest);
  const query = params.toString();
  const authority = `${scheme}${userInfo === undefined ? '' : `${userInfo}@`}${hosts}`;
  return `${authority}/${encodeURIComponent(database)}${query ? `?${query}` : ''}${fragment}`;
}

/** A connection URL without its password or sslpassword, safe for logs and error messages; multi-host aware. */
export function redact(url: string): string {
  const { scheme, userInfo, hosts, rest } = splitAuthority(url);
  if (!scheme) return '(unparseable URL)';
  const user = userInfo === undefined ? undefined : userInfo.split(':')[0];
  const { base, params } = splitQuery(rest);
  for (const secret of ['password', 'sslpassword']) if (params.has(secret)) params.set(secret, 'redacted');
  const query = params.toString();
  return `${scheme}${user ? `${user}@` : ''}${hosts}${base}${query ? `?${query}` : ''}`;
}

/** "host:port" for messages. */
export function describeHost(host: PostgresHost): string {
  return net.isIPv6(host.host) ? `[${host.host}]:${host.port}` : `${host.host}:${host.port}`;
}

/**
 * A readable reason for a TLS failure of a connection made with `resolved`, or undefined when `error` is
 * not a TLS error. Names the mode and the CA file.
 */
export function explainTlsError(error: unknown, resolved: ResolvedPostgresUrl): string | undefined {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  const ca = resolved.sslRootCert === undefined ? 'no CA' : `the CA in sslrootcert=${resolved.sslRootCert}`;
  const mode = `sslmode=${resolved.sslMode}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate does not name the host chatd connected to (${mode}): ${message}`;
  }
  if (typeof code === 'string' && /^(UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_|ERR_TLS_|ERR_SSL_)/.test(code)) {
    return `the server's certificate was rejected (${mode}, checked against ${ca}): ${code}: ${message}`;
  }
  if (/\bSSL\b|\bTLS\b|certificate|handshake/i.test(message) && resolved.sslMode !== 'disable') {
    return `TLS failed (${mode}): ${message}`;
  }
  return undefined;
}

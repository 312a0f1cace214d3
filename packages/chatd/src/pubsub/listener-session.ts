import net from 'node:net';
import tls from 'node:tls';
import postgres from 'postgres';
import type { PostgresSsl } from '../db/postgres-url.js';

/** What a {@link ListenerSession} needs. */
export interface ListenerSessionOptions {
  /** `application_name` of the connection, so operators (and tests) can find it in pg_stat_activity. */
  readonly applicationName: string;
  /** Called for every notification the connection receives, synchronously from the socket's data event. */
  readonly onNotification: (channel: string, payload: string) => void;
  /** Called once, synchronously, when the session is lost (socket closed, or {@link ListenerSession.abandon}). */
  readonly onLost: (session: ListenerSession, reason: string) => void;
  /** postgres.js's `ssl` option, from the URL's libpq parameters (see resolvePostgresUrl). */
  readonly ssl?: PostgresSsl;
  /**
   * The URL's `target_session_attrs`: `read-write` (or `primary`) makes {@link ListenerSession.open} refuse
   * a read-only server (or a standby), so that the owner moves on to the next host.
   */
  readonly targetSessionAttrs?: string | undefined;
}

/** A session was used after it was lost. */
export class SessionLostError extends Error {
  constructor() {
    super('the pubsub listener connection was lost');
    this.name = 'SessionLostError';
  }
}

/** The server a session reached is not what `target_session_attrs` asks for. */
export class WrongSessionTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WrongSessionTargetError';
  }
}

/**
 * One listener connection to PostgreSQL: a postgres.js client (max 1) that lives for exactly one backend.
 *
 * Invariant: a session never talks to a second backend. postgres.js reconnects a client transparently when
 * a query arrives after its connection closed, and that replacement connection would lack this session's
 * LISTENs. So the client gets its socket from {@link ListenerSession.#openSocket}, which opens one socket
 * per session and refuses any other, and that socket is destroyed when the session is lost (a half-open
 * socket would otherwise linger, and keep the process alive, until TCP keepalive gave up). After that the
 * session is dead for good; the owner opens a new one.
 *
 * The owner runs at most one query at a time on a session, so postgres.js never queues one behind a
 * connect and never pipelines LISTENs that could be half-applied.
 */
export class ListenerSession {
  /** The channels LISTENed on this connection (updated when each LISTEN/UNLISTEN batch succeeds). */
  readonly listened = new Set<string>();
  /**
   * The channels of the LISTEN/UNLISTEN batch in flight. A channel in it is neither surely listened nor
   * surely not: a subscribe() must not count on a LISTEN that an UNLISTEN in flight is about to undo.
   */
  readonly inFlight = new Set<string>();
  /** The backend's process id once {@link open} succeeded. */
  pid: number | undefined;
  readonly #client: postgres.Sql;
  /** The session's only socket, once postgres.js asked for it. */
  #socket: net.Socket | undefined;
  /** The TLS socket over {@link #socket}, when the session negotiated TLS. */
  #tlsSocket: tls.TLSSocket | undefined;
  readonly #ssl: PostgresSsl;
  readonly #onLost: (session: ListenerSession, reason: string) => void;
  #isLost = false;
  readonly #targetSessionAttrs: string | undefined;

  /** `url` names one host (the owner picks it from a multi-host URL). */
  constructor(url: string, options: ListenerSessionOptions) {
    this.#onLost = options.onLost;
    this.#targetSessionAttrs = options.targetSessionAttrs;
    this.#ssl = options.ssl ?? false;
    // `onnotify` and `socket` are postgres.js options (src/index.js parseOptions; the README documents
    // `socket`) that its TypeScript declarations lack, hence the untyped object.
    const clientOptions: Record<string, unknown> = {
      max: 1,
      // The session negotiates TLS itself, in #openSocket (see #negotiateTls).
      ssl: false,
      // Never end the connection on our behalf: an idle listener is the normal case, and every close
      // costs a reset (a flush of everything the consumers derived from notifications).
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      prepare: false,
      onnotice: () => {},
      connection: { application_name: options.applicationName },
      onnotify: options.onNotification,
      onclose: () => this.abandon('the connection closed'),
      socket: (parsed: ParsedConnectionOptions) => this.#openSocket(parsed),
    };
    this.#client = postgres(url, clientOptions as postgres.Options<Record<string, never>>);
  }

  /** Whether the session is lost (it stays lost). */
  get isLost(): boolean {
    return this.#isLost;
  }

  /**
   * Connects and reads the backend pid. Rejects when the connection fails or the session is lost, and with
   * a {@link WrongSessionTargetError} (the session is then abandoned) when the server is read-only or a
   * standby and `target_session_attrs` asks for read-write or primary (postgres.js decides the same way,
   * by `transaction_read_only` and `pg_is_in_recovery()`).
   */
  async open(): Promise<void> {
    const rows = await this.#query<{ pid: number; read_only: string; in_recovery: boolean }>(
      "SELECT pg_backend_pid() AS pid, current_setting('transaction_read_only') AS read_only, " +
        'pg_is_in_recovery() AS in_recovery',
    );
    const row = rows[0];
    this.pid = row?.pid;
    const wanted = this.#targetSessionAttrs;
    let wrong: string | undefined;
    if (wanted === 'read-write' && row?.read_only === 'on') wrong = 'the server is read-only';
    if (wanted === 'primary' && row?.in_recovery) wrong = 'the server is a standby';
    if (wrong) {
      const reason = `${wrong} (target_session_attrs=${wanted})`;
      this.abandon(reason);
      throw new WrongSessionTargetError(reason);
    }
  }

  /**
   * Runs the LISTENs and UNLISTENs in one simple-protocol query (one round trip, all or nothing from the
   * caller's view: on failure the session is unusable anyway), then records them in {@link listened}.
   */
  async apply(listen: readonly string[], unlisten: readonly string[]): Promise<void> {
    if (listen.length === 0 && unlisten.length === 0) return;
    const statements = [
      ...listen.map((channel) => `LISTEN ${quoteIdentifier(channel)}`),
      ...unlisten.map((channel) => `UNLISTEN ${quoteIdentifier(channel)}`),
    ];
    for (const channel of [...listen, ...unlisten]) this.inFlight.add(channel);
    try {
      await this.#query(statements.join('; '));
    } finally {
      this.inFlight.clear();
    }
    for (const channel of listen) this.listened.add(channel);
    for (const channel of unlisten) this.listened.delete(channel);
  }

  /** One round trip, to prove the connection still works. */
  async ping(): Promise<void> {
    await this.#query('SELECT 1');
  }

  /**
   * Marks the session lost (idempotent): destroys its socket, ends its client, and calls `onLost` the first
   * time with `reason`. Queries in flight reject; the owner must open a new session.
   */
  abandon(reason: string): void {
    if (this.#isLost) return;
    this.#isLost = true;
    // Outer socket first: a TLS socket whose raw socket is gone would write to a closed handle (EBADF).
    this.#tlsSocket?.destroy();
    this.#socket?.destroy();
    this.#client.end({ timeout: 0 }).catch(() => {});
    this.#onLost(this, reason);
  }

  async #query<T extends object>(text: string): Promise<T[]> {
    if (this.#isLost) throw new SessionLostError();
    return (await this.#client.unsafe(text)) as unknown as T[];
  }

  /**
   * postgres.js's `socket` option: a connected socket, or a rejection that fails the connection attempt.
   * A session opens one socket, ever. postgres.js asks again only when that socket closed (it retries a
   * connection that closed during startup on its own, without delay or `onclose`): the session is then over.
   */
  #openSocket(parsed: ParsedConnectionOptions): Promise<net.Socket> {
    const host = parsed.host[0] ?? 'localhost';
    return this.#connect(parsed).then((raw) => this.#negotiateTls(raw, host));
  }

  #connect(parsed: ParsedConnectionOptions): Promise<net.Socket> {
    if (this.#socket) this.abandon('the connection closed while connecting');
    if (this.#isLost) return Promise.reject(new SessionLostError());
    const host = parsed.host[0] ?? 'localhost';
    const port = parsed.port[0] ?? 5432;
    const socket = parsed.path ? net.connect(parsed.path) : net.connect(port, host);
    // postgres.js reads these for error messages and the TLS servername, as on its own sockets.
    Object.assign(socket, { host, port });
    this.#socket = socket;
    return new Promise((resolve, reject) => {
      const fail = (error?: Error) => {
        socket.off('connect', succeed);
        socket.off('error', fail);
        socket.off('close', closedEarly);
        socket.destroy();
        reject(error ?? new SessionLostError());
      };
      // Destroyed by abandon() while connecting: 'close' without 'error'.
      const closedEarly = () => fail();
      const succeed = () => {
        socket.off('error', fail);
        socket.off('close', closedEarly);
        resolve(socket);
      };
      socket.once('connect', succeed);
      socket.once('error', fail);
      socket.once('close', closedEarly);
    });
  }

  /**
   * The TLS start-up (SSLRequest, then a handshake with the URL's TLS options), done here rather than by
   * postgres.js so that the session owns the TLS socket as well as the raw one and abandon() destroys both
   * (postgres.js's own TLS socket, left over a destroyed raw socket, later failed with an uncaught EBADF).
   * Same decisions as postgres.js: `prefer` goes on in plaintext when the server declines TLS.
   */
  async #negotiateTls(raw: net.Socket, host: string): Promise<net.Socket> {
    const ssl = this.#ssl;
    if (ssl === false) return raw;
    const accepted = await new Promise<boolean>((resolve, reject) => {
      const cleanup = () => {
        raw.off('data', onData);
        raw.off('error', onError);
        raw.off('close', onClose);
      };
      const onData = (chunk: Buffer) => {
        cleanup();
        resolve(chunk[0] === 0x53); // 'S'
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onClose = () => {
        cleanup();
        reject(new SessionLostError());
      };
      raw.on('data', onData);
      raw.once('error', onError);
      raw.once('close', onClose);
      raw.write(SSL_REQUEST);
    });
    if (!accepted) {
      if (ssl === 'prefer') return raw;
      raw.destroy();
      throw new Error('the server does not accept TLS connections, and the sslmode requires TLS');
    }
    const secure = tls.connect({
      socket: raw,
      servername: net.isIP(host) ? undefined : host,
      ...(ssl === 'prefer' ? { rejectUnauthorized: false } : ssl),
    });
    Object.assign(secure, { host, port: (raw as net.Socket & { port?: number }).port });
    this.#tlsSocket = secure;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        secure.off('secureConnect', onSecure);
        secure.off('error', onError);
        secure.off('close', onClose);
      };
      const onSecure = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error) => {
        cleanup();
        secure.destroy();
        reject(error);
      };
      const onClose = () => {
        cleanup();
        reject(new SessionLostError());
      };
      secure.once('secureConnect', onSecure);
      secure.once('error', onError);
      secure.once('close', onClose);
    });
    return secure;
  }
}

/** PostgreSQL's SSLRequest message: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** The part of postgres.js's parsed options that its `socket` factory receives and we use. */
interface ParsedConnectionOptions {
  readonly host: readonly string[];
  readonly port: readonly number[];
  readonly path: string | false | undefined;
}

/** A channel name as a quoted SQL identifier (LISTEN takes an identifier, not a string). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

import net from 'node:net';
import postgres from 'postgres';

/** What a {@link ListenerSession} needs. */
export interface ListenerSessionOptions {
  /** `application_name` of the connection, so operators (and tests) can find it in pg_stat_activity. */
  readonly applicationName: string;
  /** Called for every notification the connection receives, synchronously from the socket's data event. */
  readonly onNotification: (channel: string, payload: string) => void;
  /** Called once, synchronously, when the session is lost (socket closed, or {@link ListenerSession.abandon}). */
  readonly onLost: (session: ListenerSession, reason: string) => void;
}

/** A session was used after it was lost. */
export class SessionLostError extends Error {
  constructor() {
    super('the pubsub listener connection was lost');
    this.name = 'SessionLostError';
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
  readonly #onLost: (session: ListenerSession, reason: string) => void;
  #isLost = false;

  constructor(url: string, options: ListenerSessionOptions) {
    this.#onLost = options.onLost;
    // `onnotify` and `socket` are postgres.js options (src/index.js parseOptions; the README documents
    // `socket`) that its TypeScript declarations lack, hence the untyped object.
    const clientOptions: Record<string, unknown> = {
      max: 1,
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

  /** Connects and reads the backend pid. Rejects when the connection fails or the session is lost. */
  async open(): Promise<void> {
    const rows = await this.#query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    this.pid = rows[0]?.pid;
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
}

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

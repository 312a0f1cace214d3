import type { UserRow } from '../db/rows.js';
import type { Store } from '../db/store.js';
import { UnauthorizedError } from '../errors.js';
import type { LoginThrottle } from './login-throttle.js';
import type { PasswordHasher } from './passwords.js';
import type { SessionManager, StartedSession } from './sessions.js';

/** A successful login: the user and the session to set in the cookie. */
export interface LoginResult {
  readonly user: UserRow;
  readonly session: StartedSession;
}

/** What a login attempt carries besides the credentials. */
export interface LoginContext {
  /** The client's address (as the HTTP layer sees it, behind `--trust-proxy`). */
  readonly address: string;
  readonly userAgent?: string | undefined;
}

/**
 * Password login. Every failure (unknown user, no password set, wrong password, disabled user) is the
 * same 401 after the same work: a key derivation always runs, against a decoy when there is no hash.
 */
export class PasswordLogin {
  readonly #store: Store;
  readonly #passwords: PasswordHasher;
  readonly #sessions: SessionManager;
  readonly #throttle: LoginThrottle;

  constructor(deps: {
    store: Store;
    passwords: PasswordHasher;
    sessions: SessionManager;
    throttle: LoginThrottle;
  }) {
    this.#store = deps.store;
    this.#passwords = deps.passwords;
    this.#sessions = deps.sessions;
    this.#throttle = deps.throttle;
  }

  /**
   * @throws {RateLimitedError} when the username or address has failed too often (checked first).
   * @throws {UnauthorizedError} for any wrong credential.
   */
  async login(username: string, password: string, context: LoginContext): Promise<LoginResult> {
    await this.#throttle.check(username, context.address);
    const row = await this.#store.getUserLoginByUsername(username);
    const matches = await this.#passwords.verify(password, row?.passwordHash);
    if (!row || !matches || row.disabledAt !== null) {
      await this.#throttle.recordFailure(username, context.address);
      throw new UnauthorizedError('wrong username or password');
    }
    await this.#throttle.recordSuccess(username);
    if (row.passwordHash && this.#passwords.needsRehash(row.passwordHash)) {
      await this.#store.setUserPasswordHash(row.id, await this.#passwords.hash(password));
    }
    const user = await this.#store.getUserById(row.id);
    // Deleted between the two reads: as wrong as a wrong password.
    if (!user) throw new UnauthorizedError('wrong username or password');
    return { user, session: await this.#sessions.start(row.id, context.userAgent) };
  }
}

import type { Store } from '../db/store.js';
import { CredentialCache, type CredentialCacheOptions } from './credential-cache.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import { PasswordLogin } from './password-login.js';
import { PasswordHasher, type PasswordHasherOptions } from './passwords.js';
import { SessionManager, type SessionOptions } from './sessions.js';

/** Options of {@link createAuthServices}; each part has its defaults. */
export interface AuthServicesOptions {
  readonly passwords?: PasswordHasherOptions;
  readonly sessions?: Partial<SessionOptions>;
  readonly loginThrottle?: Partial<LoginThrottleOptions>;
  readonly credentialCache?: CredentialCacheOptions;
}

/** What people log in with: built once per process. */
export interface AuthServices {
  /**
   * Tokens and sessions as every request reads them. Serves nothing from memory until started on the
   * pubsub (`credentials.start(pubsub)`): until then each request reads the database.
   */
  readonly credentials: CredentialCache;
  readonly passwords: PasswordHasher;
  readonly sessions: SessionManager;
  readonly loginThrottle: LoginThrottle;
  readonly login: PasswordLogin;
}

/** Builds the password, session and login services on one store. */
export function createAuthServices(store: Store, options: AuthServicesOptions = {}): AuthServices {
  const passwords = new PasswordHasher(options.passwords);
  const credentials = new CredentialCache(store, options.credentialCache);
  const sessions = new SessionManager(store, options.sessions, credentials);
  const loginThrottle = new LoginThrottle(store, options.loginThrottle);
  return Object.freeze({
    credentials,
    passwords,
    sessions,
    loginThrottle,
    login: new PasswordLogin({ store, passwords, sessions, throttle: loginThrottle }),
  });
}

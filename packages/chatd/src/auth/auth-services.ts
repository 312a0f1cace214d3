import type { Store } from '../db/store.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import { PasswordLogin } from './password-login.js';
import { PasswordHasher, type PasswordHasherOptions } from './passwords.js';
import { SessionManager, type SessionOptions } from './sessions.js';

/** Options of {@link createAuthServices}; each part has its defaults. */
export interface AuthServicesOptions {
  readonly passwords?: PasswordHasherOptions;
  readonly sessions?: Partial<SessionOptions>;
  readonly loginThrottle?: Partial<LoginThrottleOptions>;
}

/** What people log in with: built once per process. */
export interface AuthServices {
  readonly passwords: PasswordHasher;
  readonly sessions: SessionManager;
  readonly loginThrottle: LoginThrottle;
  readonly login: PasswordLogin;
}

/** Builds the password, session and login services on one store. */
export function createAuthServices(store: Store, options: AuthServicesOptions = {}): AuthServices {
  const passwords = new PasswordHasher(options.passwords);
  const sessions = new SessionManager(store, options.sessions);
  const loginThrottle = new LoginThrottle(store, options.loginThrottle);
  return Object.freeze({
    passwords,
    sessions,
    loginThrottle,
    login: new PasswordLogin({ store, passwords, sessions, throttle: loginThrottle }),
  });
}

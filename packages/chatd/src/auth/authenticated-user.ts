import type { UserRole } from '../db/rows.js';

/** What authenticated a request: an API token, or a browser session (cookie). */
export type Credential =
  | { readonly kind: 'token'; readonly id: string; readonly expiresAt: Date | null }
  | {
      readonly kind: 'session';
      readonly id: string;
      /** The earlier of the absolute expiry and the idle expiry, as of this request. */
      readonly expiresAt: Date;
      /** What every unsafe request on this session must send as `X-CSRF-Token`. */
      readonly csrfToken: string;
    };

/** The caller of an authenticated request. */
export interface AuthenticatedUser {
  readonly id: string;
  readonly username: string;
  readonly role: UserRole;
  readonly credential: Credential;
}

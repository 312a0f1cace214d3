import { z } from 'zod';
import type { Pubsub } from '../pubsub/pubsub.js';

/** The channel the database triggers of migration 0007 notify when a credential ends. */
export const AUTH_REVOKED_CHANNEL = 'auth:revoked';

/**
 * A credential that ended: a token deleted (or its expiry changed), a session ended, a user disabled or
 * deleted; `publicId` names the token or session as its cache keys it (migration 0012 on). `user_changed`:
 * a user's role or name changed (nothing ended: streams stay open, cached credentials are reloaded).
 * `all` means "anything may have ended": a truncate, a payload not understood, or a gap in delivery (the
 * listener reconnected); whoever holds credentials re-checks them all.
 */
export type Revocation =
  | { readonly kind: 'token' | 'session'; readonly id: string; readonly publicId?: string | undefined }
  | { readonly kind: 'user' | 'user_changed'; readonly id: string }
  | { readonly kind: 'all' };

const payloadSchema = z.object({
  kind: z.enum(['token', 'session', 'user', 'user_changed']),
  id: z.string().nullable(),
  public_id: z.string().nullable().optional(),
});

/** Reads a notification payload; anything unexpected is {@link Revocation} `all` (trust nothing). */
export function parseRevocation(payload: string): Revocation {
  try {
    const parsed = payloadSchema.safeParse(JSON.parse(payload));
    if (parsed.success && parsed.data.id !== null) {
      const { kind, id, public_id: publicId } = parsed.data;
      if (kind === 'token' || kind === 'session') return publicId ? { kind, id, publicId } : { kind, id };
      return { kind, id };
    }
  } catch {
    // Not JSON: answered below.
  }
  return { kind: 'all' };
}

/**
 * Calls `listener` with every revocation any replica's database writes cause, and with `all` after every
 * reconnect of the listener (notifications may have been missed meanwhile). Returns the unsubscribe.
 */
export async function subscribeToRevocations(
  pubsub: Pubsub,
  listener: (revocation: Revocation) => void,
): Promise<() => Promise<void>> {
  const unsubscribe = await pubsub.subscribe(AUTH_REVOKED_CHANNEL, (payload) =>
    listener(parseRevocation(payload)),
  );
  const removeReset = pubsub.onReset(() => listener({ kind: 'all' }));
  return async () => {
    removeReset();
    await unsubscribe();
  };
}

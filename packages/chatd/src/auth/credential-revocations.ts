import { z } from 'zod';
import type { Pubsub } from '../pubsub/pubsub.js';

/** The channel the database triggers of migration 0007 notify when a credential ends. */
export const AUTH_REVOKED_CHANNEL = 'auth:revoked';

/**
 * A credential that ended: a token deleted (or its expiry changed), a session ended, a user disabled or
 * deleted. `all` means "anything may have ended": a truncate, a payload not understood, or a gap in
 * delivery (the listener reconnected); whoever holds credentials re-checks them all.
 */
export type Revocation =
  | { readonly kind: 'token' | 'session' | 'user'; readonly id: string }
  | { readonly kind: 'all' };

const payloadSchema = z.object({ kind: z.enum(['token', 'session', 'user']), id: z.string().nullable() });

/** Reads a notification payload; anything unexpected is {@link Revocation} `all` (trust nothing). */
export function parseRevocation(payload: string): Revocation {
  try {
    const parsed = payloadSchema.safeParse(JSON.parse(payload));
    if (parsed.success && parsed.data.id !== null) return { kind: parsed.data.kind, id: parsed.data.id };
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

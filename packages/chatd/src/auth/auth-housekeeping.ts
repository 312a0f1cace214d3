import type { Logger } from 'pino';
import type { AuthServices } from './auth-services.js';

/** How often expired sessions and closed login-failure windows are deleted. */
const HOUSEKEEPING_INTERVAL_MS = 10 * 60_000;

/**
 * Deletes expired sessions and stale login-failure counters now and then. They are refused or ignored
 * anyway; this only keeps the tables small. Every replica runs it: the deletes are idempotent, and a
 * replica that finds nothing to delete costs two index scans. Returns the stop function.
 */
export function startAuthHousekeeping(auth: AuthServices, logger: Logger): () => void {
  const run = async () => {
    try {
      const sessions = await auth.sessions.deleteExpired();
      const counters = await auth.loginThrottle.deleteStale();
      if (sessions + counters > 0) logger.debug({ sessions, counters }, 'deleted expired login state');
    } catch (error) {
      logger.warn({ err: error }, 'could not delete expired sessions');
    }
  };
  const timer = setInterval(() => void run(), HOUSEKEEPING_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

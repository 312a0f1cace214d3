import { describe } from 'vitest';

/**
 * `describe` when PgBouncer can run here; given the reason it cannot (see `pgbouncerUnavailable`),
 * `describe.skip` and a loud warning that names it. `.ci/run` installs Debian's `pgbouncer` where it
 * can (as root, with apt-get), so a skip means a machine where it could not.
 */
export function describeWithPgbouncer(reason: string | undefined): typeof describe.skip {
  if (reason === undefined) return describe;
  console.warn(`\n!!! SKIPPING the PgBouncer tests: ${reason}\n`);
  return describe.skip;
}

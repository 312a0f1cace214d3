import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The unprivileged account that runs PostgreSQL when chatd itself runs as root. */
export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Every group the user belongs to, for permission checks. */
  readonly groups: readonly number[];
}

/** The name of the system user embedded PostgreSQL runs as when chatd runs as root. */
export const POSTGRES_SYSTEM_USER = 'postgres';

/**
 * PostgreSQL refuses to run as root. When chatd runs as root it starts PostgreSQL as the `postgres`
 * system user; this returns that user, or undefined when chatd is not root (PostgreSQL then runs as the
 * current user). Throws with instructions when the account does not exist.
 */
export async function resolvePostgresRunAs(): Promise<SystemUser | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const [uid, gid, groups] = await Promise.all([
      execFileAsync('id', ['-u', POSTGRES_SYSTEM_USER]),
      execFileAsync('id', ['-g', POSTGRES_SYSTEM_USER]),
      execFileAsync('id', ['-G', POSTGRES_SYSTEM_USER]),
    ]);
    return {
      name: POSTGRES_SYSTEM_USER,
      uid: Number.parseInt(uid.stdout, 10),
      gid: Number.parseInt(gid.stdout, 10),
      groups: groups.stdout.trim().split(/\s+/).map(Number),
    };
  } catch {
    throw new Error(
      `chatd is running as root and PostgreSQL cannot run as root, but there is no '${POSTGRES_SYSTEM_USER}' ` +
        `system user to run it as. Create one (useradd --system ${POSTGRES_SYSTEM_USER}), run chatd as an ` +
        'unprivileged user, or pass --postgres-url to use an existing PostgreSQL server.',
    );
  }
}

/**
 * The first directory on the way to `target` (target itself included when it exists) that `user` may
 * not enter, or undefined when every existing ancestor grants it search permission.
 */
export async function findBlockingDirectory(target: string, user: SystemUser): Promise<string | undefined> {
  const resolved = path.resolve(target);
  const chain: string[] = [];
  for (let dir = resolved; ; dir = path.dirname(dir)) {
    chain.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const dir of chain) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(dir);
    } catch {
      return undefined; // Not created yet: chatd creates it with the right owner.
    }
    if (!info.isDirectory()) continue;
    const mode = Number(info.mode);
    const searchBit =
      Number(info.uid) === user.uid ? 0o100 : user.groups.includes(Number(info.gid)) ? 0o010 : 0o001;
    if ((mode & searchBit) === 0) return dir;
  }
  return undefined;
}

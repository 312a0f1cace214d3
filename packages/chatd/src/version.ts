import { readFileSync } from 'node:fs';

/**
 * This build's version: `version` of chatd's package.json (read once; the file ships with the package,
 * one directory above both `src/` and `dist/`).
 */
export const CHATD_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

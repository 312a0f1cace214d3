import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliBytes, gzipBytes } from './precompress.js';

/** The default budget of the initial JavaScript, gzip-compressed: 150 KB. */
export const DEFAULT_INITIAL_JS_LIMIT_BYTES = 150 * 1024;

/** One chunk of Vite's manifest (`build.manifest: true`), the fields read here. */
export interface ManifestChunk {
  readonly file: string;
  readonly isEntry?: boolean;
  /** Keys of the chunks it imports statically (loaded with it). */
  readonly imports?: readonly string[];
  /** Keys of the chunks it imports dynamically (loaded later: not initial). */
  readonly dynamicImports?: readonly string[];
}

/** Vite's manifest: chunks by source key (`index.html` for the page's entry). */
export type Manifest = Readonly<Record<string, ManifestChunk>>;

/**
 * The JavaScript files the page loads before it can run: the entry chunk of `entryKey` and, recursively,
 * its static imports, as `index.html` loads them (the entry script and its modulepreloads). Dynamic
 * imports are left out. @throws {Error} when the manifest has no such entry or names a missing chunk.
 */
export function initialJavaScript(manifest: Manifest, entryKey = 'index.html'): string[] {
  const files: string[] = [];
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const chunk = manifest[key];
    if (chunk === undefined) throw new Error(`the Vite manifest has no chunk '${key}'`);
    if (chunk.file.endsWith('.js')) files.push(chunk.file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit(entryKey);
  return files;
}

/** The measured initial JavaScript. */
export interface BudgetReport {
  readonly files: readonly string[];
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly brotliBytes: number;
  readonly limitGzipBytes: number;
  readonly withinLimit: boolean;
}

/**
 * Measures the initial JavaScript of the build in `outDir` (read from `.vite/manifest.json`): each file
 * compressed on its own, as it is sent, and summed.
 */
export async function measureInitialJavaScript(
  outDir: string,
  limitGzipBytes = DEFAULT_INITIAL_JS_LIMIT_BYTES,
): Promise<BudgetReport> {
  const manifest = JSON.parse(
    await readFile(path.join(outDir, '.vite', 'manifest.json'), 'utf8'),
  ) as Manifest;
  const files = initialJavaScript(manifest);
  let bytes = 0;
  let gzip = 0;
  let brotli = 0;
  for (const file of files) {
    const data = await readFile(path.join(outDir, file));
    bytes += data.byteLength;
    gzip += (await gzipBytes(data)).byteLength;
    brotli += (await brotliBytes(data)).byteLength;
  }
  return {
    files,
    bytes,
    gzipBytes: gzip,
    brotliBytes: brotli,
    limitGzipBytes,
    withinLimit: gzip <= limitGzipBytes,
  };
}

/** `web budget: initial JS 72.1 KB gzip, 63.0 KB brotli, 220.4 KB raw, 1 file (limit 150 KB)`. */
export function formatBudget(report: BudgetReport): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const count = `${report.files.length} file${report.files.length === 1 ? '' : 's'}`;
  return (
    `web budget: initial JS ${kb(report.gzipBytes)} gzip, ${kb(report.brotliBytes)} brotli, ` +
    `${kb(report.bytes)} raw, ${count} (limit ${Number((report.limitGzipBytes / 1024).toFixed(1))} KB gzip)`
  );
}

import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Files worth compressing: text formats (images and fonts are compressed already). */
const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|txt|xml|webmanifest|wasm)$/;

/** One file written next to its original. */
export interface PrecompressedFile {
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly brotliBytes: number;
}

/** Compresses bytes with gzip at level 9. */
export function gzipBytes(data: Uint8Array): Promise<Buffer> {
  return gzipAsync(data, { level: 9 });
}

/** Compresses bytes with brotli at its best quality (11), as text. */
export function brotliBytes(data: Uint8Array): Promise<Buffer> {
  return brotli(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
    },
  });
}

/**
 * Writes `<file>.br` and `<file>.gz` next to every compressible file under `dir` (recursively), so that
 * chatd serves them by `Accept-Encoding` without compressing per request. Dot directories (Vite's
 * `.vite/manifest.json`) are left alone; a variant that would not be smaller is not written (the server
 * then sends the original).
 */
export async function precompressDirectory(dir: string): Promise<PrecompressedFile[]> {
  const written: PrecompressedFile[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      written.push(...(await precompressDirectory(file)));
      continue;
    }
    if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue;
    const data = await readFile(file);
    const [gz, br] = await Promise.all([gzipBytes(data), brotliBytes(data)]);
    if (gz.byteLength < data.byteLength) await writeFile(`${file}.gz`, gz);
    if (br.byteLength < data.byteLength) await writeFile(`${file}.br`, br);
    written.push({ file, bytes: data.byteLength, gzipBytes: gz.byteLength, brotliBytes: br.byteLength });
  }
  return written;
}

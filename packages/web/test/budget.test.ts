import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatBudget,
  initialJavaScript,
  type Manifest,
  measureInitialJavaScript,
} from '../scripts/budget.js';
import { finishBuild } from '../scripts/build-plugin.js';
import { precompressDirectory } from '../scripts/precompress.js';

/** A Vite manifest: the entry imports a vendor chunk statically and a settings page dynamically. */
const MANIFEST: Manifest = {
  'index.html': {
    file: 'assets/index-a1.js',
    isEntry: true,
    imports: ['_vendor-b2.js'],
    dynamicImports: ['src/settings.tsx'],
  },
  '_vendor-b2.js': { file: 'assets/vendor-b2.js', imports: ['_shared-c3.js'] },
  '_shared-c3.js': { file: 'assets/shared-c3.js', imports: ['_vendor-b2.js'] },
  'src/settings.tsx': { file: 'assets/settings-d4.js', imports: ['_vendor-b2.js'] },
};

let dist: string;
beforeAll(async () => {
  dist = await mkdtemp(path.join(tmpdir(), 'chatd-web-budget-'));
  await mkdir(path.join(dist, '.vite'));
  await mkdir(path.join(dist, 'assets'));
  await writeFile(path.join(dist, '.vite', 'manifest.json'), JSON.stringify(MANIFEST));
  // Repetitive text compresses well; random bytes do not.
  await writeFile(path.join(dist, 'assets', 'index-a1.js'), 'console.log("entry");\n'.repeat(2_000));
  await writeFile(path.join(dist, 'assets', 'vendor-b2.js'), 'export const v = 1;\n'.repeat(2_000));
  await writeFile(path.join(dist, 'assets', 'shared-c3.js'), 'export const s = 2;\n');
  await writeFile(path.join(dist, 'assets', 'settings-d4.js'), 'x'.repeat(1_000_000));
  await writeFile(path.join(dist, 'assets', 'logo.png'), Buffer.alloc(2_000, 7));
  await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>chatd</title>'.repeat(50));
});
afterAll(() => rm(dist, { recursive: true, force: true }));

describe('the web build budget', () => {
  it('counts the entry and its static imports, once each, never the dynamic ones', () => {
    expect(initialJavaScript(MANIFEST)).toEqual([
      'assets/index-a1.js',
      'assets/vendor-b2.js',
      'assets/shared-c3.js',
    ]);
    expect(() => initialJavaScript({ 'index.html': { file: 'a.js', imports: ['_gone.js'] } })).toThrow(
      /no chunk '_gone.js'/,
    );
  });

  it('measures the initial JavaScript compressed, and fails it above the limit', async () => {
    const report = await measureInitialJavaScript(dist);
    expect(report.files).toHaveLength(3);
    expect(report.bytes).toBe(44_000 + 40_000 + 20);
    expect(report.gzipBytes).toBeGreaterThan(0);
    expect(report.gzipBytes).toBeLessThan(2_000);
    expect(report.brotliBytes).toBeLessThan(report.gzipBytes);
    expect(report.withinLimit).toBe(true);
    expect(formatBudget(report)).toMatch(
      /^web budget: initial JS \d+\.\d KB gzip, \d+\.\d KB brotli, 82\.1 KB raw, 3 files \(limit 150 KB gzip\)$/,
    );
    const tight = await measureInitialJavaScript(dist, report.gzipBytes - 1);
    expect(tight.withinLimit).toBe(false);
  });

  it('writes .br and .gz next to text files that decompress to them, and leaves others alone', async () => {
    await precompressDirectory(dist);
    for (const file of ['assets/index-a1.js', 'index.html']) {
      const original = await readFile(path.join(dist, file));
      expect(brotliDecompressSync(await readFile(path.join(dist, `${file}.br`))).equals(original)).toBe(true);
      expect(gunzipSync(await readFile(path.join(dist, `${file}.gz`))).equals(original)).toBe(true);
    }
    await expect(readFile(path.join(dist, 'assets', 'logo.png.gz'))).rejects.toThrow(/ENOENT/);
    await expect(readFile(path.join(dist, '.vite', 'manifest.json.gz'))).rejects.toThrow(/ENOENT/);
  });

  it('fails the build over the limit, naming the files, and passes it under', async () => {
    await expect(finishBuild(dist, 100)).rejects.toThrow(
      /^web budget: initial JS .* \(limit 0\.1 KB gzip\): over the limit \(assets\/index-a1\.js, assets\/vendor-b2\.js, assets\/shared-c3\.js\)$/,
    );
    expect(await finishBuild(dist)).toMatch(/^web budget: initial JS .* \(limit 150 KB gzip\)$/);
  });
});

import path from 'node:path';
import type { Plugin, ResolvedConfig } from 'vite';
import { DEFAULT_INITIAL_JS_LIMIT_BYTES, formatBudget, measureInitialJavaScript } from './budget.js';
import { precompressDirectory } from './precompress.js';

/** Options of {@link precompressAndBudget}. */
export interface PrecompressAndBudgetOptions {
  /** The most initial JavaScript allowed, gzip-compressed, in bytes; default 150 KB. */
  readonly limitGzipBytes?: number;
}

/**
 * What the build does once its files are written in `outDir`: `.br` and `.gz` next to every text file
 * (see `precompress.ts`), then the budget of the initial JavaScript (see `budget.ts`). Resolves to the
 * budget line. @throws {Error} with that line when the initial JavaScript is over `limitGzipBytes`.
 */
export async function finishBuild(
  outDir: string,
  limitGzipBytes = DEFAULT_INITIAL_JS_LIMIT_BYTES,
): Promise<string> {
  const report = await measureInitialJavaScript(outDir, limitGzipBytes);
  await precompressDirectory(outDir);
  const line = formatBudget(report);
  if (!report.withinLimit) throw new Error(`${line}: over the limit (${report.files.join(', ')})`);
  return line;
}

/**
 * A Vite build plugin that runs {@link finishBuild} once the bundle is written and prints the budget
 * line; a budget over the limit fails the build. Needs `build.manifest: true`.
 */
export function precompressAndBudget(options: PrecompressAndBudgetOptions = {}): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'chatd:precompress-and-budget',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    async closeBundle() {
      const outDir = path.resolve(config.root, config.build.outDir);
      config.logger.info(await finishBuild(outDir, options.limitGzipBytes));
    },
  };
}

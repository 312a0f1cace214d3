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
 * A Vite build plugin run once the bundle is written: it writes `.br` and `.gz` next to every text
 * asset (see `precompress.ts`), then measures the initial JavaScript (see `budget.ts`), prints the
 * budget line and fails the build when it is over the limit. Needs `build.manifest: true`.
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
      const report = await measureInitialJavaScript(
        outDir,
        options.limitGzipBytes ?? DEFAULT_INITIAL_JS_LIMIT_BYTES,
      );
      await precompressDirectory(outDir);
      const line = formatBudget(report);
      if (!report.withinLimit) {
        throw new Error(`${line}: over the limit (${report.files.join(', ')})`);
      }
      config.logger.info(line);
    },
  };
}

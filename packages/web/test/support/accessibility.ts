import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults, Result } from 'axe-core';
import type { Page } from 'playwright-core';

/** axe-core's browser build, read once. */
let axeSource: string | undefined;

/** Impacts that fail {@link expectAccessible}. */
const FAILING_IMPACTS: ReadonlySet<string> = new Set(['serious', 'critical']);

/** One line per failing node: `[serious] color-contrast: Elements must… at main > p`. */
export function describeViolations(violations: readonly Result[]): string {
  return violations
    .flatMap((violation) =>
      violation.nodes.map(
        (node) =>
          `[${violation.impact}] ${violation.id}: ${violation.help} at ${node.target.join(' ')} (${violation.helpUrl})`,
      ),
    )
    .join('\n');
}

/**
 * Runs axe-core on the page as it is now and fails, listing every node, on any `serious` or `critical`
 * violation. axe is evaluated through the DevTools protocol, not added as a `<script>`, so the page's
 * Content-Security-Policy stays enforced (a script tag would be refused by it).
 */
export async function expectAccessible(page: Page, label = page.url()): Promise<AxeResults> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const results = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as AxeResults;
  const failing = results.violations.filter((violation) => FAILING_IMPACTS.has(violation.impact ?? ''));
  if (failing.length > 0) {
    throw new Error(`accessibility violations on ${label}:\n${describeViolations(failing)}`);
  }
  return results;
}

import { accessSync, constants } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { describe } from 'vitest';

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it); `CHATD_CHROMIUM` overrides. */
export const CHROMIUM_PATH = process.env.CHATD_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for a headless Chromium in a closed network: no sandbox (containers, root), no GPU, and none of
 * its background traffic (component updates, sync, QUIC probes), which this network refuses and which
 * would otherwise show up as errors. Playwright gives each launch a fresh temporary `--user-data-dir`
 * (it refuses one in the arguments): no profile carries over from one run to the next.
 */
export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

/** Why the browser tests cannot run here (no Chromium at {@link CHROMIUM_PATH}); undefined when they can. */
export function chromiumUnavailable(): string | undefined {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    return `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHATD_CHROMIUM)`;
  }
}

/**
 * `describe` when Chromium is here; otherwise `describe.skip` and a loud warning naming why. `.ci/run`
 * installs Debian's Chromium where it can (root with apt-get), so a skip means a machine where it could not.
 */
export function describeWithBrowser(reason = chromiumUnavailable()): typeof describe.skip {
  if (reason === undefined) return describe;
  console.warn(`\n!!! SKIPPING the browser tests: ${reason}\n`);
  return describe.skip;
}

/** Launches the headless Chromium once per test file (see {@link CHROMIUM_ARGS}). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
}

/** Run in every page before its scripts (by the DevTools protocol, so the CSP does not apply to it). */
const REPORT_CSP_VIOLATIONS = `document.addEventListener('securitypolicyviolation', (event) => {
  console.error('CSP violation: ' + event.effectiveDirective + ' blocked ' + (event.blockedURI || 'inline') +
    ' (' + event.sourceFile + ':' + event.lineNumber + ')');
});`;

/** A page in a fresh context (own cookies and storage), watched for anything that went wrong. */
export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /**
   * Console errors, uncaught exceptions, Content-Security-Policy violations, failed requests and
   * refused ones (any 5xx; a 4xx not from the API), in order, each one readable line.
   */
  readonly problems: string[];
  /** The API's 4xx answers (`HTTP 401: GET …/api/v1/auth/session`): expected or not, the test decides. */
  readonly apiRefusals: string[];
  close(): Promise<void>;
}

/**
 * Opens a page in a new context of `browser` (with `options`: a colour scheme, a phone's viewport), with the page's real CSP enforced, and records
 * {@link WatchedPage.problems}: `console.error`, `pageerror`, every `securitypolicyviolation` (listened
 * for before any page script runs) and every request that failed or was refused (see {@link WatchedPage.apiRefusals}).
 */
export async function openWatchedPage(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<WatchedPage> {
  const context = await browser.newContext(options);
  await context.addInitScript({ content: REPORT_CSP_VIOLATIONS });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // A failed load is reported below with its URL (the console message has none).
    if (message.type() !== 'error' || message.text().startsWith('Failed to load resource')) return;
    problems.push(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.stack ?? error.message}`));
  page.on('requestfailed', (request) => {
    const reason = request.failure()?.errorText;
    // Cancelled by the page itself (an AbortController when a component goes away, a navigation): not
    // a failure of the network or of the server.
    if (reason === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${reason}`);
  });
  const apiRefusals: string[] = [];
  page.on('response', (response) => {
    const status = response.status();
    if (status < 400) return;
    const line = `HTTP ${status}: ${response.request().method()} ${response.url()}`;
    // The API's 4xx are answers the app handles (401 before login, 409 on a conflict): the test decides.
    const isApi = new URL(response.url()).pathname.startsWith('/api/');
    (isApi && status < 500 ? apiRefusals : problems).push(line);
  });
  return { context, page, problems, apiRefusals, close: () => context.close() };
}

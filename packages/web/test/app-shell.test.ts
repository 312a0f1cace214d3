import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectAccessible } from './support/accessibility.js';
import {
  chromiumUnavailable,
  describeWithBrowser,
  launchBrowser,
  openWatchedPage,
} from './support/browser.js';
import { startWebTestCluster, type WebTestCluster } from './support/chatd.js';
import { logIn } from './support/ui.js';

const unavailable = chromiumUnavailable();
const describeBrowser = describeWithBrowser(unavailable);
let browser: Browser;
let chatd: WebTestCluster;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  [browser, chatd] = await Promise.all([launchBrowser(), startWebTestCluster()]);
});
afterAll(async () => {
  await browser?.close();
  await chatd?.close();
});

describeBrowser('the web app in Chromium', () => {
  it('loads from chatd with its title, under its CSP, with no error and nothing blocked', async () => {
    const watched = await openWatchedPage(browser);
    try {
      const response = await watched.page.goto(`${chatd.url}/`, { waitUntil: 'networkidle' });
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
      await expect.poll(() => watched.page.title()).toMatch(/chatd/);
      // Nobody is logged in: the app asked for the session (401) and shows the login form.
      await watched.page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
      expect(watched.problems).toEqual([]);
      expect(watched.apiRefusals).toEqual([`HTTP 401: GET ${chatd.url}/api/v1/auth/session`]);
    } finally {
      await watched.close();
    }
  });

  it('answers a deep link with the app, which renders there too', async () => {
    const watched = await openWatchedPage(browser);
    try {
      const response = await watched.page.goto(`${chatd.url}/chats/123`, { waitUntil: 'networkidle' });
      expect(response?.status()).toBe(200);
      await watched.page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
      expect(watched.problems).toEqual([]);
    } finally {
      await watched.close();
    }
  });

  it('passes axe in the dark theme on a phone, logged out and in', async () => {
    const watched = await openWatchedPage(browser, {
      colorScheme: 'dark',
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      await watched.page.goto(`${chatd.url}/`);
      await watched.page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
      await expectAccessible(watched.page, 'login, dark, phone');
      await logIn(watched.page, chatd.url, chatd.admin);
      await watched.page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
      expect(await watched.page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
      await expectAccessible(watched.page, 'new chat, dark, phone');
      expect(watched.problems).toEqual([]);
    } finally {
      await watched.close();
    }
  });

  it('enforces the CSP: an injected inline script is refused, and the watcher reports it', async () => {
    const watched = await openWatchedPage(browser);
    try {
      await watched.page.goto(`${chatd.url}/`);
      await watched.page.evaluate(
        "const s = document.createElement('script'); s.textContent = 'window.ranInline = true'; document.head.append(s)",
      );
      expect(await watched.page.evaluate('window.ranInline === true')).toBe(false);
      await expect
        .poll(() => watched.problems.join('\n'))
        .toMatch(/CSP violation: script-src-elem blocked inline/);
    } finally {
      await watched.close();
    }
  });

  it('reports an injected violation: the accessibility check can fail', async () => {
    const watched = await openWatchedPage(browser);
    try {
      await watched.page.goto(`${chatd.url}/`);
      await expectAccessible(watched.page);
      // An image with no alternative text is a critical violation (image-alt).
      await watched.page.evaluate("document.body.append(document.createElement('img'))");
      await expect(expectAccessible(watched.page)).rejects.toThrow(/\[critical\] image-alt/);
    } finally {
      await watched.close();
    }
  });
});

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScriptedLlm } from '../../chatd/test/support/scripted-llm.js';
import { expectAccessible } from './support/accessibility.js';
import {
  chromiumUnavailable,
  describeWithBrowser,
  launchBrowser,
  openWatchedPage,
  type WatchedPage,
} from './support/browser.js';
import { startWebTestCluster, type WebTestCluster } from './support/chatd.js';
import { startSlowLlm } from './support/llm.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import {
  answers,
  chatStatus,
  type Login,
  liveAnswer,
  logIn,
  messageLog,
  openAdminPage,
  sendMessage,
} from './support/ui.js';

/**
 * One person's path through the app, in order: the first admin logs in and sets up a provider, a model
 * and a member, all through the UI; the member chats with the model (a scripted provider that streams
 * slowly), interrupts an answer, and keeps an answer through a dropped connection. Every page is checked
 * with axe-core on the way.
 */
const unavailable = chromiumUnavailable();
const describeBrowser = describeWithBrowser(unavailable);
const member: Login = { username: 'mia', password: 'a long member password 42' };
let browser: Browser;
let chatd: WebTestCluster;
let llm: ScriptedLlm;
/** The member reaches chatd through it, so that a test can cut the member's connections. */
let proxy: TcpProxy;
let admin: WatchedPage;
let memberPage: WatchedPage;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  [browser, chatd, llm] = await Promise.all([launchBrowser(), startWebTestCluster(), startSlowLlm()]);
  proxy = await startTcpProxy(chatd.url);
});
afterAll(async () => {
  await admin?.close();
  await memberPage?.close();
  await browser?.close();
  await proxy?.close();
  await chatd?.close();
  await llm?.close();
});

describeBrowser('chatting in the browser', () => {
  it('logs the first admin in, who adds a provider, a model and a member through the admin pages', async () => {
    admin = await openWatchedPage(browser);
    const { page } = admin;
    await page.goto(`${chatd.url}/`);
    await page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
    await expectAccessible(page, 'login');
    await logIn(page, chatd.url, chatd.admin);
    await page.getByText('No model is available yet.').waitFor();
    await expectAccessible(page, 'new chat without models');

    await openAdminPage(page, 'Providers');
    await page.getByRole('button', { name: 'Add provider' }).click();
    const providerForm = page.getByRole('form', { name: 'New provider' });
    await providerForm.getByLabel('Kind').selectOption('openai-compat');
    await providerForm.getByLabel('Display name').fill('Scripted');
    await providerForm.getByLabel('Base URL').fill(llm.url);
    await expectAccessible(page, 'providers, new provider form');
    await providerForm.getByRole('button', { name: 'Add provider' }).click();
    await page.getByRole('heading', { level: 2, name: 'Scripted' }).waitFor();

    await openAdminPage(page, 'Models');
    await page.getByRole('button', { name: 'Add model' }).click();
    const modelForm = page.getByRole('form', { name: 'New model' });
    await modelForm.getByLabel('Model', { exact: true }).fill('scripted-1');
    await modelForm.getByLabel('Display name').fill('Scripted model');
    await modelForm.getByLabel('Default model').check();
    await expectAccessible(page, 'models, new model form');
    await modelForm.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('heading', { level: 2, name: 'Scripted model' }).waitFor();

    await openAdminPage(page, 'Users');
    await page.getByLabel('Username').fill(member.username);
    await page.getByLabel('Password (optional)').fill(member.password);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page
      .getByRole('cell', { name: member.username, exact: true })
      .or(page.getByText(member.username, { exact: true }))
      .first()
      .waitFor();
    await expectAccessible(page, 'users');
    expect(admin.problems).toEqual([]);
  });

  it('lets the member chat with that model and watch the answer stream in', async () => {
    memberPage = await openWatchedPage(browser);
    const { page } = memberPage;
    await logIn(page, proxy.url, member);
    await expect.poll(() => page.getByLabel('Model').inputValue()).not.toBe('');
    expect(await page.getByLabel('Model').locator('option:checked').textContent()).toBe(
      'Scripted model (default)',
    );
    await expectAccessible(page, 'new chat');
    await sendMessage(page, 'Tell me something slow', 'Start chat');
    await page.waitForURL(/\/chats\/[^/]+$/);
    // Parts arrive while the turn runs: words show before the last one was sent. (Those streamed before
    // the page's stream connected are not replayed live: the finished message has them.)
    await liveAnswer(page).filter({ hasText: /w\d+ / }).waitFor();
    expect(await liveAnswer(page).textContent()).not.toContain('END');
    expect(await chatStatus(page).textContent()).toMatch(/Answering|Waiting/);
    await expectAccessible(page, 'chat, answer streaming');
    await answers(page).filter({ hasText: 'END' }).waitFor();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    expect(await answers(page).count()).toBe(1);
    const text = (await answers(page).first().textContent()) ?? '';
    expect(text).toMatch(/w1 w2 w3 .*w30 END/);
    expect(llm.requestsFor('Tell me something slow')).toHaveLength(1);
    await expectAccessible(page, 'chat, answered');
  });

  it('interrupts an answer with Stop: the partial answer stays, marked as stopped', async () => {
    const { page } = memberPage;
    await sendMessage(page, 'Now a long one');
    await liveAnswer(page).filter({ hasText: /w\d+ / }).waitFor();
    await page.getByRole('button', { name: 'Stop' }).click();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    const stopped = answers(page).last();
    await stopped.getByText('Stopped before the answer was complete.').waitFor();
    expect(await stopped.textContent()).not.toContain('END');
    expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(0);
    const request = llm.requestsFor('Now a long one')[0];
    await expect.poll(() => request?.closedEarlyAt).toBeDefined();
  });

  it('keeps streaming through a dropped connection, without a duplicate', async () => {
    const { page, context } = memberPage;
    await sendMessage(page, 'One more long answer, please');
    await liveAnswer(page).filter({ hasText: /w\d+ / }).waitFor();
    // The network goes: open connections are cut, and new ones fail until it is back.
    await context.setOffline(true);
    expect(proxy.dropConnections()).toBeGreaterThan(0);
    await chatStatus(page)
      .filter({ hasText: /reconnecting/i })
      .waitFor();
    await page.waitForTimeout(1_500);
    await context.setOffline(false);
    // Past the drop the live answer goes on; the parts streamed while offline are in the finished message.
    await liveAnswer(page).filter({ hasText: /w40\b/ }).waitFor({ timeout: 30_000 });
    await chatStatus(page)
      .filter({ hasText: /^\s*Answering…\s*$/ })
      .waitFor();
    await page.getByRole('button', { name: 'Stop' }).click();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    const last = (await answers(page).last().textContent()) ?? '';
    for (const word of ['w1', 'w2', 'w3', 'w20', 'w40']) {
      expect(last.match(new RegExp(`${word}\\b`, 'g'))?.length, `${word} in ${last}`).toBe(1);
    }
    expect(await messageLog(page).getByRole('article', { name: 'You said' }).count()).toBe(3);
    expect(await answers(page).count()).toBe(3);
    // What failed is the chat's reads: the stream cut (ERR_INCOMPLETE_CHUNKED_ENCODING), then its
    // reconnects and catch-up reads refused while offline.
    const chatStream = /^request failed: GET \S*\/api\/v1\/chats\/[^/?]+\/stream[?:]/;
    const chatRead = /^request failed: GET \S*\/api\/v1\/chats\/[^/?]+(\/stream)?[?:]/;
    expect(
      memberPage.problems.some((problem) => chatStream.test(problem)),
      memberPage.problems.join('\n'),
    ).toBe(true);
    expect(memberPage.problems.filter((problem) => !chatRead.test(problem))).toEqual([]);
  });

  it('logs out to the login page', async () => {
    const { page } = memberPage;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
  });
});

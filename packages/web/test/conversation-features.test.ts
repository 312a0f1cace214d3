import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ChatdClient } from '../../chatd/src/scaletest/chatd-client.js';
import {
  type ScriptedLlm,
  type ScriptedReply,
  type ScriptedRequest,
  startScriptedLlm,
} from '../../chatd/test/support/scripted-llm.js';
import { createModel } from '../../chatd/test/support/test-server.js';
import { expectAccessible } from './support/accessibility.js';
import {
  chromiumUnavailable,
  describeWithBrowser,
  launchBrowser,
  openWatchedPage,
  type WatchedPage,
} from './support/browser.js';
import { startWebTestCluster, type WebTestCluster } from './support/chatd.js';
import { numberedWords } from './support/llm.js';
import { answers, chatStatus, type Login, liveAnswer, logIn, messageLog, sendMessage } from './support/ui.js';

/**
 * The conversation features of the web app, each in a real Chromium against a real chatd: Markdown
 * (highlighted, copyable code; raw HTML and `javascript:` links made harmless), queued messages, edit and
 * regenerate, titles and renaming, the chat list's search and endless paging, the model picker, token
 * usage, the keyboard, and the theme. One scripted provider answers every request, recognisably (see
 * {@link script}).
 */
const unavailable = chromiumUnavailable();
/** How long a condition may take to come true on a slow, loaded machine (expect.poll's default is 1 s). */
const WAIT = { timeout: 30_000 };
const describeBrowser = describeWithBrowser(unavailable);

/** The member who chats in most tests; `lister` owns the many chats of the chat-list test. */
const member: Login = { username: 'nora', password: 'a long member password 11' };
const lister: Login = { username: 'lars', password: 'a long member password 12' };

/** The two enabled models: the default one, and the one a new chat may pick instead. */
const DEFAULT_MODEL = 'scripted-small';
const OTHER_MODEL = 'scripted-big';

/** The code block of the Markdown answer, exactly as the copy button must copy it. */
const CODE = 'const answer = 42;\nconsole.log("the answer is", answer);';
const MARKDOWN_ANSWER = ['Here is **some code**:\n\n', '```js\n', `${CODE}\n`, '```\n\n', 'That is all.'];
/** Raw HTML and a `javascript:` link, each of which would set `window.__xss` if it ran. */
const HOSTILE_ANSWER = [
  'Raw <img src=x onerror="window.__xss=1"> and ',
  '<script>window.__xss=2</script> and ',
  '[a bad link](javascript:window.__xss=3) and ',
  '[a good link](https://example.com/docs).',
];
/** The usage answer: 7 chunks, so 7 output tokens (and the scripted 10 input tokens per request). */
const USAGE_ANSWER = ['one ', 'two ', 'three ', 'four ', 'five ', 'six ', 'seven'];

/**
 * How the provider answers: a title request with the first message's text before a `:` (`Otters: …`
 * is titled `Otters`), else `A test chat`; a message naming `markdown`, `hostile`, `usage` or `slow` with
 * those answers; anything else with `Answer #<request index> to: <message>`, unique per request.
 */
function script(request: ScriptedRequest): ScriptedReply {
  const content = request.lastUserContent;
  if (request.isTitle) return { chunks: [/^([^:\n]{1,40}):/.exec(content)?.[1] ?? 'A test chat'] };
  if (content.includes('markdown')) return { chunks: MARKDOWN_ANSWER, delayMs: 20 };
  if (content.includes('hostile')) return { chunks: HOSTILE_ANSWER, delayMs: 20 };
  if (content.includes('usage')) return { chunks: USAGE_ANSWER };
  if (content.includes('slow')) return { chunks: numberedWords(60), delayMs: 150 };
  return { chunks: ['Answer ', `#${request.index} `, 'to: ', content] };
}

let browser: Browser;
let chatd: WebTestCluster;
let llm: ScriptedLlm;
/** The API as {@link member}, to look at her chats beside the page. */
let memberApi: ChatdClient;
/** The API as {@link lister}, to create chats faster than the UI would. */
let listerApi: ChatdClient;
/** Pages opened by a test, closed after it (also when it fails). */
const openPages: WatchedPage[] = [];

beforeAll(async () => {
  if (unavailable !== undefined) return;
  [browser, chatd, llm] = await Promise.all([
    launchBrowser(),
    startWebTestCluster(),
    startScriptedLlm(script),
  ]);
  await createModel(chatd.adminApi, { provider: 'openai-compat', model: DEFAULT_MODEL, baseUrl: llm.url });
  await createModel(chatd.adminApi, {
    provider: 'openai-compat',
    model: OTHER_MODEL,
    baseUrl: llm.url,
    isDefault: false,
  });
  const createUser = async (login: Login) => {
    const created = await chatd.adminApi.request<{ token: string }>('POST', '/api/v1/users', {
      ...login,
      role: 'member',
    });
    return new ChatdClient(chatd.url, created.token);
  };
  memberApi = await createUser(member);
  listerApi = await createUser(lister);
});
afterEach(async () => {
  // A test that failed before {@link closePages}: its pages go, unchecked.
  for (const watched of openPages.splice(0)) await watched.close();
});
afterAll(async () => {
  await browser?.close();
  await chatd?.close();
  await llm?.close();
});

/** A fresh page (own storage), logged in as `login`, on the new chat page. */
async function openLoggedIn(login: Login = member, options: Parameters<typeof openWatchedPage>[1] = {}) {
  const watched = await openWatchedPage(browser, options);
  openPages.push(watched);
  await logIn(watched.page, chatd.url, login);
  await watched.page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
  return watched;
}

/** Closes the pages the test opened, after checking none of them had a problem. */
async function closePages(): Promise<void> {
  const pages = openPages.splice(0);
  try {
    for (const watched of pages) expect(watched.problems).toEqual([]);
  } finally {
    for (const watched of pages) await watched.close();
  }
}

/** Starts a chat from the new chat page and waits for its first answer to be finished. */
async function startChat(page: Page, content: string): Promise<void> {
  await sendMessage(page, content, 'Start chat');
  await page.waitForURL(/\/chats\/[^/]+$/);
  await answers(page).first().waitFor();
  await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
}

/** Sends a message in an open chat and waits for the answer number `count` (1-based) and Ready. */
async function sendAndWait(page: Page, content: string, count: number): Promise<void> {
  await sendMessage(page, content);
  await answers(page)
    .nth(count - 1)
    .waitFor();
  await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
}

/** The user's messages in the log. */
function userMessages(page: Page): Locator {
  return messageLog(page).getByRole('article', { name: 'You said' });
}

/** The chat list's links (the sidebar's chats, without "New chat"). */
function chatLinks(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Chats' }).getByRole('list').getByRole('link');
}

/** A chat list link by its title (a running chat's link also says "answering"). */
function chatLink(page: Page, title: string): Locator {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return chatLinks(page).filter({ hasText: new RegExp(`^${escaped}(answering)?$`) });
}

/** The chat's heading (its title). */
function chatHeading(page: Page): Locator {
  return page.getByRole('heading', { level: 1 });
}

/** The clipboard's text, as the page reads it. */
function clipboardText(page: Page): Promise<string> {
  return page.evaluate('navigator.clipboard.readText()') as Promise<string>;
}

describeBrowser('conversation features in the browser', () => {
  it('renders Markdown with highlighted code that the copy button copies exactly', async () => {
    const { page, context } = await openLoggedIn();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: chatd.url });
    await startChat(page, 'Some markdown, please');
    const answer = answers(page).first();
    await answer.getByText('That is all.').waitFor();
    // Markdown, not its source: bold text, and a code block highlighted as JavaScript.
    expect(await answer.locator('strong').textContent()).toBe('some code');
    expect(await answer.textContent()).not.toContain('**');
    expect(await answer.textContent()).not.toContain('```');
    const code = answer.locator('pre > code');
    expect(await code.getAttribute('class')).toMatch(/\bhljs\b.*\blanguage-js\b/);
    expect(await code.locator('.hljs-keyword').allTextContents()).toContain('const');
    expect(await code.locator('.hljs-string').count()).toBeGreaterThan(0);
    expect(await code.locator('.hljs-number').allTextContents()).toContain('42');

    await page.evaluate("navigator.clipboard.writeText('nothing copied yet')");
    await answer.getByRole('button', { name: 'Copy code' }).click();
    await expect.poll(() => clipboardText(page), WAIT).toBe(CODE);
    await answer.getByRole('button', { name: 'Copied' }).waitFor();
    // The message's own copy button copies its Markdown source.
    await answer.getByRole('button', { name: 'Copy message' }).click();
    await expect.poll(() => clipboardText(page), WAIT).toBe(MARKDOWN_ANSWER.join(''));

    // Where the async clipboard refuses (a document that lost focus) or is missing (plain HTTP on
    // another host), the selection route copies instead, and gives the focus back to the button.
    await page.evaluate(`
      window.__clipboard = navigator.clipboard;
      window.__write = navigator.clipboard.writeText.bind(navigator.clipboard);
      Object.defineProperty(navigator.clipboard, 'writeText', {
        configurable: true,
        value: () => Promise.reject(new DOMException('Document is not focused.', 'NotAllowedError')),
      });
    `);
    const realClipboardText = () => page.evaluate('window.__clipboard.readText()');
    const focusedClass = () => page.evaluate('document.activeElement?.className ?? ""');
    await page.evaluate("window.__write('nothing copied yet')");
    await answer.locator('button.code-copy').click();
    await expect.poll(realClipboardText, WAIT).toBe(CODE);
    await answer.locator('button.code-copy', { hasText: 'Copied' }).waitFor();
    expect(await focusedClass()).toContain('code-copy');
    await page.evaluate(
      "Object.defineProperty(Navigator.prototype, 'clipboard', { configurable: true, get: () => undefined })",
    );
    await page.evaluate("window.__write('nothing copied yet')");
    await answer.getByRole('button', { name: 'Copy message' }).click();
    await expect.poll(realClipboardText, WAIT).toBe(MARKDOWN_ANSWER.join(''));
    expect(await page.evaluate('document.activeElement?.textContent ?? ""')).toContain('Copy message');
    // Both routes refused: the button says so instead of claiming a copy.
    await page.evaluate('document.execCommand = () => false');
    await answer.locator('button.code-copy').click();
    await answer.locator('button.code-copy', { hasText: 'Copy failed' }).waitFor();
    await answer.getByRole('button', { name: 'Copy message' }).click();
    await answer.getByRole('button', { name: 'Copy message Copy failed' }).waitFor();
    await expectAccessible(page, 'chat with a code block');
    await closePages();
  });

  it('shows raw HTML as text and runs nothing of an answer: no element, handler or javascript: link', async () => {
    const { page } = await openLoggedIn();
    await startChat(page, 'A hostile answer, please');
    const answer = answers(page).first();
    await answer.getByRole('link', { name: 'a good link' }).waitFor();
    const text = (await answer.textContent()) ?? '';
    expect(text).toContain('Raw <img src=x onerror="window.__xss=1"> and');
    expect(text).toContain('<script>window.__xss=2</script>');
    expect(text).toContain('a bad link');
    const log = messageLog(page);
    expect(await log.locator('img, script, iframe, object, embed, style').count()).toBe(0);
    expect(await log.locator('[onerror], [onclick], [onload]').count()).toBe(0);
    const hrefs = await log
      .locator('a[href]')
      .evaluateAll((links) => links.map((a) => a.getAttribute('href')));
    expect(hrefs).toEqual(['https://example.com/docs']);
    const good = answer.getByRole('link', { name: 'a good link' });
    expect(await good.getAttribute('target')).toBe('_blank');
    expect(await good.getAttribute('rel')).toBe('noopener noreferrer');
    // The bad link is plain text now: clicking it runs nothing.
    await answer.getByText('a bad link').click();
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    await closePages();
  });

  it('queues a message sent during an answer and answers it after, in order', async () => {
    const { page } = await openLoggedIn();
    await sendMessage(page, 'First, something slow', 'Start chat');
    await page.waitForURL(/\/chats\/[^/]+$/);
    await liveAnswer(page).filter({ hasText: /w\d+ / }).waitFor();
    await sendMessage(page, 'Then this one');
    const queue = page.getByRole('heading', { level: 2, name: 'Queued (1)' });
    await queue.waitFor();
    const queuedItem = page.getByRole('listitem').filter({ hasText: /^Then this one$/ });
    expect(await queuedItem.count()).toBe(1);
    // Still the first answer's turn: the provider has not been asked the queued message yet.
    expect(llm.requestsFor('Then this one')).toEqual([]);
    expect(await userMessages(page).count()).toBe(1);
    await expectAccessible(page, 'chat with a queued message');

    await answers(page).nth(1).waitFor({ timeout: 30_000 });
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    await queue.waitFor({ state: 'detached' });
    expect(await answers(page).count()).toBe(2);
    expect(await answers(page).nth(0).textContent()).toMatch(/w1 w2 .*w60 END/);
    expect(await answers(page).nth(1).textContent()).toContain('to: Then this one');
    expect(await userMessages(page).allTextContents()).toEqual([
      expect.stringContaining('First, something slow'),
      expect.stringContaining('Then this one'),
    ]);
    const [first] = llm.requestsFor('First, something slow');
    const [second] = llm.requestsFor('Then this one');
    expect(second!.receivedAt).toBeGreaterThanOrEqual(first!.finishedAt!);
    // The queued message was answered with the first exchange in its history.
    expect(second!.messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    await closePages();
  });

  it('edits an earlier message: it and what follows are replaced by the edit and a new answer', async () => {
    const { page } = await openLoggedIn();
    await startChat(page, 'Edit: the first question');
    await sendAndWait(page, 'The second question', 2);
    const firstAnswer = (await answers(page).nth(0).textContent()) ?? '';
    expect(firstAnswer).toContain('to: Edit: the first question');

    await userMessages(page).first().getByRole('button', { name: 'Edit' }).click();
    const editBox = page.getByRole('textbox', { name: 'Edit message' });
    await expect.poll(() => editBox.inputValue(), WAIT).toBe('Edit: the first question');
    await expect
      .poll(() => editBox.evaluate((box) => box === box.ownerDocument.activeElement), WAIT)
      .toBe(true);
    await expectAccessible(page, 'chat, editing a message');
    await editBox.fill('Edit: the edited question');
    await page.getByRole('button', { name: 'Save and resend' }).click();

    await answers(page).filter({ hasText: 'to: Edit: the edited question' }).waitFor();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    expect(await editBox.count()).toBe(0);
    expect(await userMessages(page).allTextContents()).toEqual([
      expect.stringContaining('Edit: the edited question'),
    ]);
    expect(await answers(page).count()).toBe(1);
    const log = (await messageLog(page).textContent()) ?? '';
    expect(log).not.toContain('the first question');
    expect(log).not.toContain('The second question');
    const [edited, ...more] = llm.requestsFor('Edit: the edited question');
    expect(more).toEqual([]);
    // The provider got the edit alone: what followed the edited message was removed.
    expect(edited!.messages.filter((message) => message.role !== 'system')).toEqual([
      { role: 'user', content: 'Edit: the edited question' },
    ]);
    // The history survives a reload as edited.
    await page.reload();
    await answers(page).first().waitFor();
    expect(await userMessages(page).count()).toBe(1);
    expect(await answers(page).count()).toBe(1);
    expect(await messageLog(page).textContent()).not.toContain('The second question');
    await closePages();
  });

  it('regenerates the last answer: a new request for the same message, one answer shown', async () => {
    const { page } = await openLoggedIn();
    await startChat(page, 'Regenerate: say something');
    await sendAndWait(page, 'Say it again', 2);
    const before = (await answers(page).nth(1).textContent()) ?? '';
    const [original] = llm.requestsFor('Say it again');
    expect(before).toContain(`Answer #${original!.index} to: Say it again`);
    // Only the last answer offers Regenerate.
    expect(await answers(page).nth(0).getByRole('button', { name: 'Regenerate' }).count()).toBe(0);

    await answers(page).nth(1).getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(() => llm.requestsFor('Say it again').length, WAIT).toBe(2);
    const again = llm.requestsFor('Say it again')[1]!;
    await answers(page)
      .filter({ hasText: `Answer #${again.index} to: Say it again` })
      .waitFor();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    expect(await answers(page).count()).toBe(2);
    expect(await userMessages(page).count()).toBe(2);
    expect(await messageLog(page).textContent()).not.toContain(`Answer #${original!.index} `);
    // The same prompt as before, without the answer it replaces.
    expect(again.messages).toEqual(original!.messages);
    await page.reload();
    await answers(page).nth(1).waitFor();
    expect(await answers(page).count()).toBe(2);
    expect(await answers(page).nth(1).textContent()).toContain(`Answer #${again.index} to: Say it again`);
    await closePages();
  });

  it('shows the generated title in the header and the chat list, and a rename in both, after a reload too', async () => {
    const { page } = await openLoggedIn();
    // The page's first read of the new chat waits until its turn ended and its title was written: the
    // stream then replays neither (they happened before it), which is what a fast model often does.
    let held: string | undefined;
    const chatRead = /\/api\/v1\/chats\/[^/?]+(\?[^/]*)?$/;
    await page.route(chatRead, async (route) => {
      const id = /\/chats\/([^/?]+)/.exec(route.request().url())?.[1];
      if (held === undefined && route.request().method() === 'GET' && id !== undefined) {
        held = id;
        await expect
          .poll(async () => {
            const { chat } = await memberApi.getChat(id);
            return `${chat.status} ${chat.title}`;
          }, WAIT)
          .toBe('waiting Otters');
      }
      await route.continue();
    });
    await startChat(page, 'Otters: tell me about them');
    expect(held).toBeDefined();
    await chatHeading(page)
      .filter({ hasText: /^Otters$/ })
      .waitFor();
    // The list shows the title the chat has now, and no "answering" badge for a turn that ended.
    await chatLinks(page)
      .filter({ hasText: /^Otters$/ })
      .waitFor();
    await expect.poll(() => page.title(), WAIT).toContain('Otters');
    expect(
      llm.titleRequests().some((request) => request.lastUserContent === 'Otters: tell me about them'),
    ).toBe(true);
    await page.unroute(chatRead);

    await page.getByRole('button', { name: 'Rename' }).click();
    const titleBox = page.getByRole('textbox', { name: 'Chat title' });
    await expect.poll(() => titleBox.inputValue(), WAIT).toBe('Otters');
    await expectAccessible(page, 'chat, renaming');
    await titleBox.fill('  Sea otters   and kelp ');
    await page.getByRole('button', { name: 'Save title' }).click();
    // Saved as the server cleans it (whitespace collapsed), in the header and the list at once.
    await chatHeading(page)
      .filter({ hasText: /^Sea otters and kelp$/ })
      .waitFor();
    await chatLink(page, 'Sea otters and kelp').waitFor();
    expect(await titleBox.count()).toBe(0);
    expect(await chatLink(page, 'Otters').count()).toBe(0);

    await page.reload();
    await chatHeading(page)
      .filter({ hasText: /^Sea otters and kelp$/ })
      .waitFor();
    await chatLink(page, 'Sea otters and kelp').waitFor();
    expect(await chatLink(page, 'Otters').count()).toBe(0);
    await expect.poll(() => page.title(), WAIT).toContain('Sea otters and kelp');
    await closePages();
  });

  it('searches the chat list by a word in its messages, and loads older chats as the list scrolls', async () => {
    // More chats than the sidebar's page (30): each answered and titled before the next, so that the
    // list's order (newest change first) is their creation order.
    const total = 34;
    const titles = Array.from(
      { length: total },
      (_, index) => `Paging ${String(index + 1).padStart(2, '0')}`,
    );
    for (const title of titles) await createSettledChat(`${title}: hello`, title);
    const birds = await createSettledChat('Birds: where do they nest?', 'Birds');
    await listerApi.sendMessage(birds, 'And what about pelicans?');
    await expect
      .poll(async () => {
        const detail = await listerApi.getChat(birds);
        return detail.chat.status === 'waiting' && detail.messages.length === 4;
      }, WAIT)
      .toBe(true);

    const { page } = await openLoggedIn(lister, { viewport: { width: 1280, height: 720 } });
    const shown = page.getByRole('navigation', { name: 'Chats' }).getByText(/^\d+ chats shown$/);
    await shown.filter({ hasText: '30 chats shown' }).waitFor();
    expect(await chatLinks(page).count()).toBe(30);
    expect(await chatLinks(page).first().textContent()).toBe('Birds');
    expect(await chatLink(page, 'Paging 01').count()).toBe(0);

    const search = page.getByRole('searchbox', { name: 'Search chats' });
    await search.fill('pelicans');
    await shown.filter({ hasText: /^1 chats shown$/ }).waitFor();
    expect(await chatLinks(page).allTextContents()).toEqual(['Birds']);
    await expectAccessible(page, 'chat list, search results');
    await search.fill('flamingos');
    await page.getByText('No chat matches.').waitFor();
    expect(await chatLinks(page).count()).toBe(0);
    await search.fill('');
    await shown.filter({ hasText: '30 chats shown' }).waitFor();

    // Scrolled to its end, the list loads the next page: the oldest chat shows, each chat once.
    const sidebar = page.getByRole('complementary', { name: 'Chat list' });
    await sidebar.hover();
    await expect
      .poll(async () => {
        await page.mouse.wheel(0, 2_000);
        return chatLink(page, 'Paging 01').count();
      }, WAIT)
      .toBe(1);
    await shown.filter({ hasText: `${total + 1} chats shown` }).waitFor();
    expect(await chatLinks(page).allTextContents()).toEqual(['Birds', ...titles.toReversed()]);
    expect(await page.getByRole('button', { name: 'Load more chats' }).count()).toBe(0);
    await closePages();
  }, 180_000);

  it('starts a chat with the model picked instead of the default', async () => {
    const { page } = await openLoggedIn();
    const picker = page.getByRole('combobox', { name: 'Model' });
    await expect
      .poll(() => picker.locator('option:checked').textContent(), WAIT)
      .toBe(`${DEFAULT_MODEL} (default)`);
    expect(await picker.locator('option').allTextContents()).toEqual([
      `${DEFAULT_MODEL} (default)`,
      OTHER_MODEL,
    ]);
    await startChat(page, 'Models: the default one');
    await page.getByText(`Model: ${DEFAULT_MODEL}`).waitFor();
    expect(llm.requestsFor('Models: the default one')[0]?.body.model).toBe(DEFAULT_MODEL);

    await page.getByRole('navigation', { name: 'Chats' }).getByRole('link', { name: 'New chat' }).click();
    await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
    await expect.poll(() => picker.inputValue(), WAIT).not.toBe('');
    await picker.selectOption({ label: OTHER_MODEL });
    await startChat(page, 'Models: the other one');
    await page.getByText(`Model: ${OTHER_MODEL}`).waitFor();
    expect(await page.getByText(`Model: ${DEFAULT_MODEL}`).count()).toBe(0);
    const [request] = llm.requestsFor('Models: the other one');
    expect(request?.body.model).toBe(OTHER_MODEL);
    // The next turn of that chat stays with its model.
    await sendAndWait(page, 'Models: and again', 2);
    expect(llm.requestsFor('Models: and again')[0]?.body.model).toBe(OTHER_MODEL);
    await page.reload();
    await page.getByText(`Model: ${OTHER_MODEL}`).waitFor();
    await closePages();
  });

  it("shows each answer's token usage and the chat's total", async () => {
    const { page } = await openLoggedIn();
    await startChat(page, 'Count my usage');
    const usage = page.getByText(/^Usage: /);
    // The provider reported 10 input and 7 output tokens (the title's request is not the chat's).
    await usage.filter({ hasText: 'Usage: 10 in · 7 out tokens' }).waitFor();
    await answers(page).first().getByText('10 in · 7 out tokens', { exact: true }).waitFor();
    await sendAndWait(page, 'Plain this time', 2);
    const second = llm.requestsFor('Plain this time')[0]!;
    expect(second).toBeDefined();
    // `Answer `, `#n `, `to: `, the message: 4 chunks, 4 tokens.
    await answers(page).nth(1).getByText('10 in · 4 out tokens', { exact: true }).waitFor();
    await usage.filter({ hasText: 'Usage: 20 in · 11 out tokens' }).waitFor();
    // A user message has no usage.
    expect(
      await userMessages(page)
        .first()
        .getByText(/out tokens/)
        .count(),
    ).toBe(0);
    await page.reload();
    await usage.filter({ hasText: 'Usage: 20 in · 11 out tokens' }).waitFor();
    await closePages();
  });

  it('works from the keyboard: Enter sends, Shift+Enter breaks the line, Tab reaches the composer, focus shows', async () => {
    const { page } = await openLoggedIn();
    const composer = page.getByRole('textbox', { name: 'Message' });
    // Until the models are loaded the composer does not send.
    await expect.poll(() => page.getByRole('combobox', { name: 'Model' }).inputValue(), WAIT).not.toBe('');
    const isFocused = (locator: Locator) =>
      locator.evaluate((element) => element === element.ownerDocument.activeElement);
    // The new chat page puts the cursor in the composer.
    await expect.poll(() => isFocused(composer), WAIT).toBe(true);
    await page.keyboard.type('Keys: line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    expect(await composer.inputValue()).toBe('Keys: line one\nline two');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/chats\/[^/]+$/);
    await answers(page).first().waitFor();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    // One message, with its line break: Shift+Enter did not send the first line alone.
    const turns = llm.requests.filter((request) => !request.isTitle);
    expect(turns.filter((request) => request.lastUserContent.startsWith('Keys: line one'))).toHaveLength(1);
    expect(llm.requestsFor('Keys: line one\nline two')).toHaveLength(1);
    expect(await userMessages(page).first().locator('.message-text').textContent()).toBe(
      'Keys: line one\nline two',
    );

    await expect.poll(() => isFocused(composer), WAIT).toBe(true);
    await page.keyboard.type('Keys: again');
    await page.keyboard.press('Enter');
    await answers(page).nth(1).waitFor();
    await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
    expect(await composer.inputValue()).toBe('');
    expect(llm.requestsFor('Keys: again')).toHaveLength(1);

    // Backwards from the composer, Shift+Tab reaches the skip link (the page's first stop), which shows
    // when focused and leads into the main region; Tab from there reaches the composer again.
    const skipLink = page.getByRole('link', { name: 'Skip to content' });
    expect(
      await skipLink.boundingBox().then((box) => (box?.y ?? 0) + (box?.height ?? 0)),
    ).toBeLessThanOrEqual(0);
    let presses = 0;
    while (!(await isFocused(skipLink)) && presses < 100) {
      await page.keyboard.press('Shift+Tab');
      presses++;
    }
    expect(await isFocused(skipLink)).toBe(true);
    expect(await skipLink.evaluate((link) => link.matches(':focus-visible'))).toBe(true);
    const box = await skipLink.boundingBox();
    expect(box !== null && box.y >= 0 && box.height > 0).toBe(true);
    await page.keyboard.press('Enter');
    const main = page.getByRole('main');
    await expect.poll(() => isFocused(main), WAIT).toBe(true);
    presses = 0;
    while (!(await isFocused(composer)) && presses < 100) {
      await page.keyboard.press('Tab');
      presses++;
    }
    expect(await isFocused(composer)).toBe(true);

    // Focus is visible on a button reached by Tab: the style sheet's outline, not none.
    await page.keyboard.type('Keys: by tab');
    await page.keyboard.press('Tab');
    const send = page.getByRole('button', { name: 'Send', exact: true });
    expect(await isFocused(send)).toBe(true);
    const outline = await send.evaluate((button) => {
      const style = button.ownerDocument.defaultView?.getComputedStyle(button);
      return {
        style: style?.outlineStyle,
        width: style?.outlineWidth,
        focusVisible: button.matches(':focus-visible'),
      };
    });
    expect(outline).toEqual({ style: 'solid', width: '3px', focusVisible: true });
    await page.keyboard.press('Enter');
    await answers(page).nth(2).waitFor();
    expect(llm.requestsFor('Keys: by tab')).toHaveLength(1);
    await closePages();
  });

  it('switches to the dark theme and keeps it after a reload, accessible on an answered chat', async () => {
    const { page } = await openLoggedIn(member, { colorScheme: 'light' });
    const theme = () => page.evaluate('document.documentElement.dataset.theme');
    const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(await theme()).toBe('light');
    const lightBackground = await background();
    await startChat(page, 'Theme: some markdown in the dark');
    const highlighted = answers(page).first().locator('pre > code.hljs');
    await highlighted.waitFor();

    const toggle = page.getByRole('button', { name: 'Dark theme' });
    expect(await toggle.getAttribute('aria-pressed')).toBe('false');
    await toggle.click();
    await expect.poll(theme, WAIT).toBe('dark');
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    expect(await background()).not.toBe(lightBackground);
    await expectAccessible(page, 'chat with an answer, dark theme');

    // The choice outlives the page, against the system's light preference.
    await page.reload();
    await highlighted.waitFor();
    expect(await theme()).toBe('dark');
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    await expectAccessible(page, 'chat with an answer, dark theme, reloaded');
    await toggle.click();
    await expect.poll(theme, WAIT).toBe('light');
    await page.reload();
    await answers(page).first().waitFor();
    expect(await theme()).toBe('light');
    expect(await background()).toBe(lightBackground);
    await closePages();
  });
});

/** Creates a chat as {@link lister} and waits until it is answered and titled `title`; its id. */
async function createSettledChat(content: string, title: string): Promise<string> {
  const chat = await listerApi.createChat(content);
  await expect
    .poll(async () => {
      const detail = await listerApi.getChat(chat.id);
      return detail.chat.status === 'waiting' && detail.chat.title === title;
    }, WAIT)
    .toBe(true);
  return chat.id;
}

import type { components } from '@chatd/client';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChatdClient } from '../../chatd/src/scaletest/chatd-client.js';
import type { ScriptedLlm, ScriptedRequest } from '../../chatd/test/support/scripted-llm.js';
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
import { answers, chatStatus, type Login, logIn, openAdminPage, sendMessage } from './support/ui.js';

/**
 * The settings and administration pages in Chromium, each change checked where it takes effect: in the
 * API's answers, in what the scripted provider receives, and in what another person's browser can do.
 * Two replicas on one database (the deployment page lists both); the admin works on the first one.
 */
type Schemas = components['schemas'];
type ProviderJson = Schemas['Provider'];
type ModelConfigJson = Schemas['ModelConfig'];
type UserAccountJson = Schemas['UserAccount'];
type ConfigStatusJson = Schemas['ConfigStatus'];
type UsageReportJson = Schemas['UsageReport'];

const unavailable = chromiumUnavailable();
const describeBrowser = describeWithBrowser(unavailable);
/** Long enough for a slow, loaded machine: each test drives several pages and turns. */
const TEST_TIMEOUT = 120_000;
/** expect.poll gives up after 1 s by default: too soon for a loaded machine. */
const POLL = { timeout: 20_000 } as const;
/** A provider API key: it must never come back, in the API or on a page. */
const API_KEY = 'sk-test-never-shown-4f1c9a7e';
/** The deployment's system prompt: personal instructions come after it. */
const SYSTEM_PROMPT = 'You are chatd, under test.';

let browser: Browser;
let chatd: WebTestCluster;
let llm: ScriptedLlm;
let adminPage: WatchedPage;
/** A member who uses the settings (and whose password changes in the password test). */
let nina: { login: Login; api: ChatdClient; page: WatchedPage };
let scriptedProviderId: string;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  [browser, llm, chatd] = await Promise.all([
    launchBrowser(),
    startSlowLlm(),
    startWebTestCluster({ replicas: 2 }),
  ]);
  const provider = await chatd.adminApi.request<ProviderJson>('POST', '/api/v1/chat/providers', {
    provider: 'openai-compat',
    display_name: 'Scripted',
    base_url: llm.url,
  });
  scriptedProviderId = provider.id;
  await chatd.adminApi.request('POST', '/api/v1/chat/model-configs', {
    provider_id: provider.id,
    model: 'scripted-1',
    display_name: 'Scripted model',
    context_limit: 8192,
    is_default: true,
  });
  await chatd.adminApi.request('PUT', '/api/v1/chat/config/system-prompt', { system_prompt: SYSTEM_PROMPT });
  const login = { username: 'nina', password: 'nina has a long password 1' };
  nina = { login, api: await createMember(login), page: await openWatchedPage(browser) };
  // The models page writes counts with thousands separators: in English here.
  adminPage = await openWatchedPage(browser, { locale: 'en-US' });
  await logIn(adminPage.page, chatd.url, chatd.admin);
});
afterAll(async () => {
  await nina?.page.close();
  await adminPage?.close();
  await browser?.close();
  await chatd?.close();
  await llm?.close();
});

/** Creates a member with a password through the API; returns the API as them (their first token). */
async function createMember(login: Login): Promise<ChatdClient> {
  const created = await chatd.adminApi.request<{ token: string }>('POST', '/api/v1/users', {
    ...login,
    role: 'member',
  });
  return new ChatdClient(chatd.url, created.token);
}

/** The HTTP status of `GET /api/v1/users/me` with `token` as a bearer token (on the first replica). */
async function statusWithToken(token: string, baseUrl = chatd.url): Promise<number> {
  const response = await fetch(`${baseUrl}/api/v1/users/me`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Waits until every replica has applied the database's config version: a turn that runs next, on
 * whichever replica, sees the config just written (user prompts, providers and model configs are cached).
 */
async function waitForConfigOnEveryReplica(): Promise<void> {
  const { version } = await chatd.adminApi.request<ConfigStatusJson>('GET', '/api/v1/chat/config/status');
  await expect
    .poll(() => chatd.replicas.map((replica) => replica.configCache.appliedVersion >= version), POLL)
    .toEqual(chatd.replicas.map(() => true));
}

/** The system prompt of a request the scripted provider received ('' when it had none). */
function systemPromptOf(request: ScriptedRequest | undefined): string {
  const system = request?.messages.find((message) => message.role === 'system');
  return typeof system?.content === 'string' ? system.content : JSON.stringify(system?.content ?? '');
}

/** The one non-title request whose last user message is `content`, once it has arrived. */
async function requestFor(content: string): Promise<ScriptedRequest> {
  await expect.poll(() => llm.requestsFor(content).length, POLL).toBe(1);
  return llm.requestsFor(content)[0]!;
}

/** Submits the login form with `login` and waits for its refusal (the visible error, no app). */
async function expectLoginRefused(page: Page, baseUrl: string, login: Login): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
  await page.getByLabel('Username', { exact: true }).fill(login.username);
  await page.getByLabel('Password', { exact: true }).fill(login.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong username or password' }).waitFor();
  expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
}

/**
 * Waits until the page's session is refused: its requests (the settings page's, the new-chat page's)
 * answer 401 and the app shows the login page. A replica learns that a session ended by a notification,
 * so a request made just before it arrives may still pass: the page goes on navigating until refused.
 */
async function expectSessionRefused(page: Page): Promise<void> {
  const loginHeading = page.getByRole('heading', { name: 'Log in to chatd' });
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect
    .poll(async () => {
      if (await loginHeading.isVisible()) return 401;
      if (new URL(page.url()).pathname === '/settings') {
        await nav.getByRole('link', { name: 'Chats' }).click();
        await page.getByRole('heading', { level: 1, name: 'New chat' }).or(loginHeading).waitFor();
        if (await loginHeading.isVisible()) return 401;
      }
      const answer = page.waitForResponse((response) =>
        response.url().endsWith('/api/v1/chat/config/user-prompt'),
      );
      await nav.getByRole('link', { name: 'Settings' }).click();
      return (await answer).status();
    }, POLL)
    .toBe(401);
  await loginHeading.waitFor();
}

/** Logs out by the header's button and waits for the login page. */
async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in to chatd' }).waitFor();
}

/** Opens the settings page by the main navigation. */
async function openSettings(page: Page): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
}

/**
 * The new-chat page's model picker. (A label around a select names it with the options' text too:
 * "Model Scripted model (default) …", hence the prefix.)
 */
function modelPicker(page: Page): Locator {
  return page.getByLabel(/^Model/);
}

/** The labels of the new-chat page's model picker, once it has loaded. */
async function modelChoices(page: Page): Promise<string[]> {
  await page.goto(`${chatd.url}/`);
  const picker = modelPicker(page);
  await expect.poll(() => picker.inputValue(), POLL).not.toBe('');
  return (await picker.locator('option').allTextContents()).map((label) => label.trim());
}

/** Every text the page holds: its HTML and the current values of its form fields. */
async function pageText(page: Page): Promise<string> {
  const values = (await page.evaluate(
    "[...document.querySelectorAll('input, textarea, select')].map((field) => field.value)",
  )) as string[];
  return `${await page.content()}\n${values.join('\n')}`;
}

/** The table row whose row header is `name` exactly. */
function rowOf(scope: Page | Locator, name: string): Locator {
  // The inner locator of `has` is matched inside each row: it must start from the page.
  const page = 'page' in scope ? scope.page() : scope;
  return scope.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
}

/** The providers page's item of the provider `name`. */
function providerItem(page: Page, name: string): Locator {
  return page
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { level: 2, name, exact: true }) });
}

async function providerNamed(name: string): Promise<ProviderJson> {
  const { providers } = await chatd.adminApi.request<{ providers: ProviderJson[] }>(
    'GET',
    '/api/v1/chat/providers',
  );
  const provider = providers.find((candidate) => candidate.display_name === name);
  if (!provider) throw new Error(`no provider ${name} in ${JSON.stringify(providers)}`);
  return provider;
}

async function modelConfigNamed(name: string, api = chatd.adminApi): Promise<ModelConfigJson | undefined> {
  const { model_configs } = await api.request<{ model_configs: ModelConfigJson[] }>(
    'GET',
    '/api/v1/chat/model-configs',
  );
  return model_configs.find((config) => config.display_name === name);
}

async function userNamed(username: string): Promise<UserAccountJson> {
  const { users } = await chatd.adminApi.request<{ users: UserAccountJson[] }>('GET', '/api/v1/users');
  const user = users.find((candidate) => candidate.username === username);
  if (!user) throw new Error(`no user ${username}`);
  return user;
}

describeBrowser('settings and administration in the browser', () => {
  it(
    'saves personal instructions that the next turn sends to the model, after the system prompt',
    async () => {
      const { page } = nina.page;
      await logIn(page, chatd.url, nina.login);
      await sendMessage(page, 'Before instructions', 'Start chat');
      await page.waitForURL(/\/chats\/[^/]+$/);
      const chatUrl = page.url();
      await answers(page).first().waitFor();
      expect(systemPromptOf(await requestFor('Before instructions'))).toBe(SYSTEM_PROMPT);

      await openSettings(page);
      const instructions = page.getByRole('textbox', { name: 'Personal instructions' });
      await expect.poll(() => instructions.isEnabled(), POLL).toBe(true);
      expect(await instructions.inputValue()).toBe('');
      await instructions.fill('Answer in haiku.\nNever use the letter z.');
      await page.getByRole('button', { name: 'Save instructions' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      await expectAccessible(page, 'settings, instructions saved');
      const stored = await nina.api.request<{ custom_prompt: string }>(
        'GET',
        '/api/v1/chat/config/user-prompt',
      );
      expect(stored.custom_prompt).toBe('Answer in haiku.\nNever use the letter z.');
      // Stored, not only kept by the form: a reload shows them.
      await page.reload();
      await expect
        .poll(() => instructions.inputValue(), POLL)
        .toBe('Answer in haiku.\nNever use the letter z.');

      await waitForConfigOnEveryReplica();
      await page.goto(chatUrl);
      await chatStatus(page).filter({ hasText: 'Ready' }).waitFor();
      await sendMessage(page, 'After instructions');
      await answers(page).nth(1).waitFor();
      expect(systemPromptOf(await requestFor('After instructions'))).toBe(
        `${SYSTEM_PROMPT}\n\n<user-instructions>\nAnswer in haiku.\nNever use the letter z.\n</user-instructions>`,
      );
      // They are nina's: another person's turn goes without them.
      await chatd.adminApi.createChat('An admin turn');
      expect(systemPromptOf(await requestFor('An admin turn'))).toBe(SYSTEM_PROMPT);
      expect(nina.page.problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'changes the password only with the right current one; the old one then fails to log in',
    async () => {
      const { page } = nina.page;
      await openSettings(page);
      const current = page.getByLabel('Current password', { exact: true });
      const next = page.getByLabel('New password', { exact: true });
      const repeat = page.getByLabel('Repeat new password', { exact: true });
      const change = page.getByRole('button', { name: 'Change password' });
      const newPassword = 'nina changed it to this 2';

      // Two different new passwords: said so, and nothing can be sent.
      await next.fill(newPassword);
      await repeat.fill(`${newPassword}!`);
      await page.getByText('The passwords differ.').waitFor();
      expect(await repeat.getAttribute('aria-invalid')).toBe('true');
      expect(await change.isDisabled()).toBe(true);

      await current.fill('not the current password');
      await repeat.fill(newPassword);
      await change.click();
      await page.getByRole('alert').filter({ hasText: 'current_password is wrong' }).waitFor();
      await expectAccessible(page, 'settings, wrong current password');
      // Still logged in (a 403, not a 401), and the password did not change.
      await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();

      await current.fill(nina.login.password);
      await change.click();
      await page.getByRole('status').filter({ hasText: 'Password changed.' }).waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(await current.inputValue()).toBe('');

      const oldLogin = nina.login;
      nina.login = { username: oldLogin.username, password: newPassword };
      await logOut(page);
      await expectLoginRefused(page, chatd.url, oldLogin);
      await expectAccessible(page, 'login, refused');
      await logIn(page, chatd.url, nina.login);
      await page.getByRole('heading', { level: 1, name: 'New chat' }).waitFor();
      expect(nina.page.problems).toEqual([]);
      expect(nina.page.apiRefusals).toContain(`HTTP 403: PUT ${chatd.url}/api/v1/users/me/password`);
      expect(nina.page.apiRefusals).toContain(`HTTP 401: POST ${chatd.url}/api/v1/auth/login`);
    },
    TEST_TIMEOUT,
  );

  it(
    'shows a new API token once, which works as a bearer token until it is revoked',
    async () => {
      const { page } = nina.page;
      await openSettings(page);
      const tokens = page.getByRole('table', { name: 'Your API tokens' });
      // Listed: the token nina was created with (a header row and its row), no 'script' yet.
      await tokens.waitFor();
      const before = await tokens.getByRole('row').count();
      expect(before).toBe(2);
      expect(await rowOf(tokens, 'script').count()).toBe(0);

      await page.getByLabel('Token name', { exact: true }).fill('script');
      await page.getByLabel(/^Expires/).selectOption({ label: '30 days' });
      await page.getByRole('button', { name: 'Create token' }).click();
      const notice = page.getByRole('status').filter({ hasText: 'it will not be shown again' });
      await notice.waitFor();
      const token = await notice.getByRole('textbox', { name: 'New token' }).inputValue();
      expect(token.length).toBeGreaterThan(20);
      await expectAccessible(page, 'settings, token created');
      await rowOf(tokens, 'script').waitFor();
      expect(await tokens.getByRole('row').count()).toBe(before + 1);
      expect(await rowOf(tokens, 'script').getByRole('cell').nth(2).textContent()).not.toBe('Never');

      const me = await fetch(`${chatd.url}/api/v1/users/me`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { username: string }).username).toBe('nina');
      // Through the other replica too.
      const other = new ChatdClient(chatd.replicas[1]!.url, token);
      expect((await other.request<{ username: string }>('GET', '/api/v1/users/me')).username).toBe('nina');

      // Done hides it; after a reload it is nowhere on the page (the list has names and dates only).
      await notice.getByRole('button', { name: 'Done' }).click();
      await notice.waitFor({ state: 'detached' });
      await page.reload();
      await rowOf(tokens, 'script').waitFor();
      expect(await pageText(page)).not.toContain(token);

      // Revoking asks first; Cancel keeps the token.
      const row = rowOf(tokens, 'script');
      await row.getByRole('button', { name: 'Revoke script' }).click();
      await row.getByText('Revoke the token script?').waitFor();
      await expectAccessible(page, 'settings, revoke question');
      await row.getByRole('button', { name: 'Cancel' }).click();
      await row.getByRole('button', { name: 'Revoke script' }).waitFor();
      expect(await statusWithToken(token)).toBe(200);

      await row.getByRole('button', { name: 'Revoke script' }).click();
      await row.getByRole('button', { name: 'Revoke', exact: true }).click();
      await row.waitFor({ state: 'detached' });
      expect(await tokens.getByRole('row').count()).toBe(before);
      // Refused on every replica (each learns of the revocation by a notification).
      for (const replica of chatd.replicas) {
        await expect.poll(() => statusWithToken(token, replica.url), POLL).toBe(401);
      }
      await page.reload();
      await tokens.waitFor();
      expect(await rowOf(tokens, 'script').count()).toBe(0);
      expect(nina.page.problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'keeps a provider API key write-only: never shown nor returned, kept by other edits, removable',
    async () => {
      const { page } = adminPage;
      await openAdminPage(page, 'Providers');
      await page.getByRole('button', { name: 'Add provider' }).click();
      const newForm = page.getByRole('form', { name: 'New provider' });
      await newForm.getByLabel('Kind').selectOption('openai-compat');
      await newForm.getByLabel('Display name').fill('Keyed');
      await newForm.getByLabel('Base URL').fill(llm.url);
      await newForm.getByRole('textbox', { name: /^API key/ }).fill(API_KEY);
      await newForm.getByRole('button', { name: 'Add provider' }).click();
      await page.getByRole('heading', { level: 2, name: 'Keyed' }).waitFor();
      await providerItem(page, 'Keyed')
        .getByText(`openai-compat · ${llm.url} · enabled · API key stored`)
        .waitFor();

      expect(await pageText(page)).not.toContain(API_KEY);
      const created = await providerNamed('Keyed');
      expect(created.has_api_key).toBe(true);
      expect(JSON.stringify(created)).not.toContain(API_KEY);
      // The key is the one sent to the provider.
      const keyed = await chatd.adminApi.request<ModelConfigJson>('POST', '/api/v1/chat/model-configs', {
        provider_id: created.id,
        model: 'keyed-1',
        display_name: 'Keyed model',
        context_limit: 8192,
      });
      await waitForConfigOnEveryReplica();
      await chatd.adminApi.createChat('Keyed, first', keyed.id);
      expect((await requestFor('Keyed, first')).authorization).toBe(`Bearer ${API_KEY}`);

      await page.getByRole('button', { name: 'Edit Keyed' }).click();
      const editForm = page.getByRole('form', { name: 'Edit Keyed' });
      const keyField = editForm.getByRole('textbox', { name: /^API key/ });
      expect(await keyField.inputValue()).toBe('');
      expect(await keyField.getAttribute('placeholder')).toBe('unchanged');
      expect(await pageText(page)).not.toContain(API_KEY);
      await expectAccessible(page, 'providers, edit form');

      // Another field changed, the key left alone: it stays.
      await editForm.getByLabel('Display name').fill('Keyed provider');
      await editForm.getByRole('button', { name: 'Save provider' }).click();
      await page.getByRole('heading', { level: 2, name: 'Keyed provider' }).waitFor();
      await providerItem(page, 'Keyed provider').getByText('API key stored').waitFor();
      const renamed = await providerNamed('Keyed provider');
      expect(renamed.id).toBe(created.id);
      expect(renamed.has_api_key).toBe(true);
      expect(renamed.base_url).toBe(llm.url);
      await waitForConfigOnEveryReplica();
      await chatd.adminApi.createChat('Keyed, after a rename', keyed.id);
      expect((await requestFor('Keyed, after a rename')).authorization).toBe(`Bearer ${API_KEY}`);

      // The remove control removes it (and the key field is off meanwhile).
      await page.getByRole('button', { name: 'Edit Keyed provider' }).click();
      const again = page.getByRole('form', { name: 'Edit Keyed provider' });
      await again.getByLabel('Remove the stored API key').check();
      expect(await again.getByRole('textbox', { name: /^API key/ }).isDisabled()).toBe(true);
      await expectAccessible(page, 'providers, edit form, removing the key');
      await again.getByRole('button', { name: 'Save provider' }).click();
      await providerItem(page, 'Keyed provider')
        .getByText(`openai-compat · ${llm.url} · enabled · no API key`)
        .waitFor();
      expect((await providerNamed('Keyed provider')).has_api_key).toBe(false);
      await waitForConfigOnEveryReplica();
      await chatd.adminApi.createChat('Keyed, after the removal', keyed.id);
      expect((await requestFor('Keyed, after the removal')).authorization ?? '').not.toContain(API_KEY);

      await page.getByRole('button', { name: 'Edit Keyed provider' }).click();
      const last = page.getByRole('form', { name: 'Edit Keyed provider' });
      expect(await last.getByRole('textbox', { name: /^API key/ }).getAttribute('placeholder')).toBe('none');
      expect(await last.getByLabel('Remove the stored API key').count()).toBe(0);
      await last.getByRole('button', { name: 'Cancel' }).click();
      expect(adminPage.problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'saves a model config as the form shows it; invalid options save nothing; disabled hides it',
    async () => {
      const { page } = adminPage;
      await openAdminPage(page, 'Models');
      await page.getByRole('button', { name: 'Add model' }).click();
      const newForm = page.getByRole('form', { name: 'New model' });
      await newForm.getByLabel('Provider').selectOption({ label: 'Scripted (openai-compat)' });
      await newForm.getByLabel('Model', { exact: true }).fill('picker-1');
      await newForm.getByLabel('Display name').fill('Picker model');
      await newForm.getByRole('button', { name: 'Add model' }).click();
      await page.getByRole('heading', { level: 2, name: 'Picker model' }).waitFor();
      const created = await modelConfigNamed('Picker model');
      expect(created).toMatchObject({ provider_id: scriptedProviderId, model: 'picker-1', enabled: true });
      expect(await modelChoices(nina.page.page)).toContain('Picker model');

      await page.getByRole('button', { name: 'Edit Picker model' }).click();
      const editForm = page.getByRole('form', { name: 'Edit Picker model' });
      expect(await editForm.getByLabel('Provider').isDisabled()).toBe(true);
      await expectAccessible(page, 'models, edit form');
      await editForm.getByLabel('Context limit (tokens)').fill('32000');
      await editForm.getByLabel('Options (JSON)').fill('{"temperature": 0.25, "seed": 7}');
      await editForm.getByRole('button', { name: 'Save model' }).click();
      await page.getByText(/picker-1 · context 32,000 ·/).waitFor();
      const edited = await modelConfigNamed('Picker model');
      expect(edited).toMatchObject({
        id: created!.id,
        context_limit: 32_000,
        options: { temperature: 0.25, seed: 7 },
        enabled: true,
      });

      // The options reach the provider.
      await waitForConfigOnEveryReplica();
      const member = nina.page.page;
      await modelChoices(member);
      await modelPicker(member).selectOption({ label: 'Picker model' });
      await sendMessage(member, 'Which options?', 'Start chat');
      await answers(member).first().waitFor();
      expect((await requestFor('Which options?')).body).toMatchObject({ temperature: 0.25, seed: 7 });

      // A smaller context limit, the answer reserve left at its default (never set): saved, and the
      // default follows the new limit (a quarter of it).
      await page.getByRole('button', { name: 'Edit Picker model' }).click();
      const smaller = page.getByRole('form', { name: 'Edit Picker model' });
      await smaller.getByLabel('Context limit (tokens)').fill('8000');
      await smaller.getByRole('button', { name: 'Save model' }).click();
      await page.getByText(/picker-1 · context 8,000 · output 2,000 ·/).waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(await modelConfigNamed('Picker model')).toMatchObject({
        context_limit: 8000,
        max_output_tokens: 2000,
      });
      // A reserve typed in is saved; emptied, it is the default again.
      await page.getByRole('button', { name: 'Edit Picker model' }).click();
      const reserve = page.getByRole('form', { name: 'Edit Picker model' });
      await reserve.getByLabel('Max output tokens').fill('1500');
      await reserve.getByRole('button', { name: 'Save model' }).click();
      await page.getByText(/picker-1 · context 8,000 · output 1,500 ·/).waitFor();
      expect((await modelConfigNamed('Picker model'))?.max_output_tokens).toBe(1500);
      await page.getByRole('button', { name: 'Edit Picker model' }).click();
      await reserve.getByLabel('Max output tokens').fill('');
      await reserve.getByRole('button', { name: 'Save model' }).click();
      await page.getByText(/picker-1 · context 8,000 · output 2,000 ·/).waitFor();
      const smallerConfig = await modelConfigNamed('Picker model');
      expect(smallerConfig).toMatchObject({ context_limit: 8000, max_output_tokens: 2000 });

      // Options that are not a JSON object: said so, and the form cannot save.
      await page.getByRole('button', { name: 'Edit Picker model' }).click();
      const invalid = page.getByRole('form', { name: 'Edit Picker model' });
      const options = invalid.getByLabel('Options (JSON)');
      await options.fill('[1, 2]');
      await invalid.getByText('Options must be a JSON object').waitFor();
      await invalid.getByLabel('Display name').fill('Renamed model');
      await options.fill('{"temperature": ');
      await invalid.getByText(/^Options are not valid JSON: /).waitFor();
      expect(await options.getAttribute('aria-invalid')).toBe('true');
      expect(await invalid.getByRole('button', { name: 'Save model' }).isDisabled()).toBe(true);
      await expectAccessible(page, 'models, edit form, invalid options');
      const writes: string[] = [];
      const countWrite = (request: { method(): string; url(): string }) => {
        if (request.method() !== 'GET' && request.url().includes('/model-configs'))
          writes.push(request.url());
      };
      page.on('request', countWrite);
      await invalid.getByLabel('Display name').press('Enter');
      await invalid.getByRole('button', { name: 'Cancel' }).click();
      await page.reload();
      await page.getByRole('heading', { level: 2, name: 'Picker model' }).waitFor();
      page.off('request', countWrite);
      expect(writes).toEqual([]);
      expect(await modelConfigNamed('Picker model')).toEqual(smallerConfig);
      expect(await modelConfigNamed('Renamed model')).toBeUndefined();

      // Disabled: gone from a member's picker and list (an admin still sees it, marked).
      await page.getByRole('button', { name: 'Edit Picker model' }).click();
      const disabling = page.getByRole('form', { name: 'Edit Picker model' });
      await disabling.getByLabel('Enabled', { exact: true }).uncheck();
      await disabling.getByRole('button', { name: 'Save model' }).click();
      await page
        .getByRole('heading', { level: 2, name: 'Picker model' })
        .filter({ hasText: 'disabled' })
        .waitFor();
      expect((await modelConfigNamed('Picker model'))?.enabled).toBe(false);
      expect(await modelConfigNamed('Picker model', nina.api)).toBeUndefined();
      const choices = await modelChoices(member);
      expect(choices).toContain('Scripted model (default)');
      expect(choices).not.toContain('Picker model');
      expect(adminPage.problems).toEqual([]);
      expect(nina.page.problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'creates a user who, promoted, sees the admin pages; a reset password and disabling take effect',
    async () => {
      const { page } = adminPage;
      const ulla: Login = { username: 'ulla', password: 'ulla starts with this one' };
      await openAdminPage(page, 'Users');
      await page.getByLabel('Username', { exact: true }).fill(ulla.username);
      await page.getByLabel(/^Role(?! of)/).selectOption('member');
      await page.getByLabel('Password (optional)').fill(ulla.password);
      await page.getByRole('button', { name: 'Create user' }).click();
      const notice = page.getByRole('status').filter({ hasText: 'it will not be shown again' });
      await notice.waitFor();
      const ullaToken = await notice.getByRole('textbox', { name: 'New token' }).inputValue();
      const row = rowOf(page, 'ulla');
      await row.waitFor();
      await expectAccessible(page, 'users, user created');
      expect(await userNamed('ulla')).toMatchObject({ role: 'member', disabled: false });
      expect(await statusWithToken(ullaToken)).toBe(200);

      const ullaPage = await openWatchedPage(browser);
      try {
        const own = ullaPage.page;
        const mainNav = own.getByRole('navigation', { name: 'Main' });
        await logIn(own, chatd.url, ulla);
        await mainNav.getByRole('link', { name: 'Settings' }).waitFor();
        expect(await mainNav.getByRole('link', { name: 'Admin' }).count()).toBe(0);

        // While a change is on its way the select shows it; one the server refuses shows the stored
        // role again. The test holds the PATCH, then answers it with an error.
        const roleSelect = row.getByLabel('Role of ulla');
        let answerRefusal!: () => void;
        const refusalHeld = new Promise<void>((resolve) => {
          answerRefusal = resolve;
        });
        const userPatch = '**/api/v1/users/*';
        await page.route(userPatch, async (route) => {
          if (route.request().method() !== 'PATCH') return route.fallback();
          await refusalHeld;
          await route.fulfill({
            status: 409,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'E_CONFLICT', message: 'Refused by the test.' } }),
          });
        });
        await roleSelect.selectOption('admin');
        await expect.poll(() => roleSelect.isDisabled(), POLL).toBe(true);
        expect(await roleSelect.inputValue()).toBe('admin');
        answerRefusal();
        await expect.poll(() => roleSelect.isDisabled(), POLL).toBe(false);
        expect(await roleSelect.inputValue()).toBe('member');
        expect((await userNamed('ulla')).role).toBe('member');
        await page.unroute(userPatch);
        expect(adminPage.apiRefusals.filter((line) => line.startsWith('HTTP 409: PATCH'))).toHaveLength(1);

        await roleSelect.selectOption('admin');
        await expect.poll(async () => (await userNamed('ulla')).role, POLL).toBe('admin');
        await expect.poll(() => roleSelect.inputValue(), POLL).toBe('admin');
        await logOut(own);
        await logIn(own, chatd.url, ulla);
        await mainNav.getByRole('link', { name: 'Admin' }).waitFor();
        await openAdminPage(own, 'Users');

        // A reset password: the new one logs in, the old one no more.
        await row.getByRole('button', { name: 'Reset password of ulla' }).click();
        const reset = row.getByLabel('New password for ulla');
        await reset.waitFor();
        await expectAccessible(page, 'users, password reset form');
        const resetPassword = 'ulla was given this one';
        await reset.fill(resetPassword);
        await row.getByRole('button', { name: 'Save password' }).click();
        await row.getByRole('status').filter({ hasText: 'Password set.' }).waitFor();
        await expectAccessible(page, 'users, password set');
        // Her session ended with the reset: her next request sends her to the login page.
        await expectSessionRefused(own);
        await expectLoginRefused(own, chatd.url, ulla);
        const newLogin = { username: 'ulla', password: resetPassword };
        await logIn(own, chatd.url, newLogin);

        // Disabled: her open session is refused at its next request, and so are her login and her token.
        await row.getByRole('button', { name: 'Disable ulla' }).click();
        await row.getByRole('button', { name: 'Enable ulla' }).waitFor();
        await row.getByRole('cell', { name: /^disabled / }).waitFor();
        expect(await userNamed('ulla')).toMatchObject({ disabled: true });
        await expectAccessible(page, 'users, user disabled');
        await expectSessionRefused(own);
        await expectLoginRefused(own, chatd.url, newLogin);
        await expect.poll(() => statusWithToken(ullaToken), POLL).toBe(401);

        // Enabled again: the same password logs in.
        await row.getByRole('button', { name: 'Enable ulla' }).click();
        await row.getByRole('button', { name: 'Disable ulla' }).waitFor();
        expect(await userNamed('ulla')).toMatchObject({ disabled: false });
        await logIn(own, chatd.url, newLogin);
        expect(ullaPage.problems).toEqual([]);
        expect(adminPage.problems).toEqual([]);
      } finally {
        await ullaPage.close();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'brings a role change to the person’s open page: promoted, the admin area appears when the tab is shown again; demoted, it goes at the first call refused',
    async () => {
      const rolf: Login = { username: 'rolf', password: 'rolf changes hats 4' };
      const rolfApi = await createMember(rolf);
      const { id } = await rolfApi.request<{ id: string }>('GET', '/api/v1/users/me');
      const rolfPage = await openWatchedPage(browser);
      try {
        const own = rolfPage.page;
        await logIn(own, chatd.url, rolf);
        const adminLink = own.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' });
        expect(await adminLink.count()).toBe(0);

        await chatd.adminApi.request('PATCH', `/api/v1/users/${id}`, { role: 'admin' });
        // Rolf comes back to the tab (the event the browser fires when a hidden tab is shown again).
        await own.evaluate("document.dispatchEvent(new Event('visibilitychange'))");
        await expect.poll(() => adminLink.count(), POLL).toBe(1);
        await openAdminPage(own, 'Users');

        // Demoted while on an admin page: the next admin call is refused (403), and the area goes.
        await chatd.adminApi.request('PATCH', `/api/v1/users/${id}`, { role: 'member' });
        await own.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Providers' }).click();
        await expect.poll(() => adminLink.count(), POLL).toBe(0);
        expect(await own.getByRole('navigation', { name: 'Admin' }).count()).toBe(0);
        // Still logged in, as a member.
        await own.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chats' }).click();
        await own.getByRole('button', { name: 'Start chat' }).waitFor();
        expect(rolfPage.problems).toEqual([]);
        // The session check before the login, and the one refused admin call.
        expect(rolfPage.apiRefusals).toEqual([
          expect.stringMatching(/^HTTP 401: GET .*\/api\/v1\/auth\/session$/),
          expect.stringMatching(/^HTTP 403: GET .*\/api\/v1\/chat\/providers$/),
        ]);
      } finally {
        await rolfPage.close();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'lists the tokens of an answered turn on the usage page, per user and per model',
    async () => {
      const ugo: Login = { username: 'ugo', password: 'ugo counts his tokens 3' };
      await createMember(ugo);
      await chatd.adminApi.request('POST', '/api/v1/chat/model-configs', {
        provider_id: scriptedProviderId,
        model: 'usage-1',
        display_name: 'Usage model',
        context_limit: 8192,
      });
      await waitForConfigOnEveryReplica();
      const ugoPage = await openWatchedPage(browser);
      try {
        const own = ugoPage.page;
        await logIn(own, chatd.url, ugo);
        await modelChoices(own);
        await modelPicker(own).selectOption({ label: 'Usage model' });
        await sendMessage(own, 'Count my tokens', 'Start chat');
        await answers(own).filter({ hasText: 'Hello from the scripted model.' }).waitFor();
        await chatStatus(own).filter({ hasText: 'Ready' }).waitFor();
        expect(ugoPage.problems).toEqual([]);
      } finally {
        await ugoPage.close();
      }
      // The scripted provider reports 10 prompt tokens and one completion token per chunk (5).
      const expected = { input_tokens: 10, output_tokens: 5, turns: 1 };
      const byUser = await chatd.adminApi.request<UsageReportJson>('GET', '/api/v1/usage?group_by=user');
      expect(byUser.rows.find((candidate) => candidate.name === 'ugo')).toMatchObject(expected);
      const byModel = await chatd.adminApi.request<UsageReportJson>(
        'GET',
        '/api/v1/usage?group_by=model_config',
      );
      expect(byModel.rows.find((candidate) => candidate.name === 'Usage model')).toMatchObject(expected);

      const { page } = adminPage;
      await openAdminPage(page, 'Usage');
      const table = page.getByRole('table', { name: 'Token usage' });
      const cellsOf = async (name: string) =>
        (await rowOf(table, name).getByRole('cell').allTextContents()).map((text) => text.trim());
      await rowOf(table, 'ugo').waitFor();
      expect(await cellsOf('ugo')).toEqual(['10', '5', '1']);
      // Every user who chatted has a row, and the total adds them up.
      await rowOf(table, 'nina').waitFor();
      expect(await table.getByRole('columnheader', { name: 'User' }).count()).toBe(1);
      const totalTurns = byUser.rows.reduce((sum, candidate) => sum + Number(candidate.turns), 0);
      expect((await cellsOf('Total'))[2]).toBe(String(totalTurns));
      await expectAccessible(page, 'usage by user');

      await page.getByLabel('Group by').selectOption({ label: 'Model' });
      await table.getByRole('columnheader', { name: 'Model' }).waitFor();
      await rowOf(table, 'Usage model').waitFor();
      expect(await cellsOf('Usage model')).toEqual(['10', '5', '1']);
      expect(await rowOf(table, 'ugo').count()).toBe(0);
      await expectAccessible(page, 'usage by model');
      expect(adminPage.problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'keeps the deployment page live: a config write shows as a new version, every replica catching up',
    async () => {
      const { page } = adminPage;
      const themeToggle = page.getByRole('button', { name: 'Dark theme' });
      expect(await themeToggle.getAttribute('aria-pressed')).toBe('false');
      await themeToggle.click();
      expect(await themeToggle.getAttribute('aria-pressed')).toBe('true');
      await expect.poll(() => page.evaluate('document.documentElement.dataset.theme'), POLL).toBe('dark');
      await openAdminPage(page, 'Deployment');
      const status = page.getByRole('status').filter({ hasText: 'Database config version' });
      await status.filter({ hasText: 'all 2 replicas in sync.' }).waitFor();
      const shown = Number(/version (\d+)/.exec((await status.textContent()) ?? '')?.[1]);
      const before = await chatd.adminApi.request<ConfigStatusJson>('GET', '/api/v1/chat/config/status');
      expect(shown).toBe(before.version);
      const table = page.getByRole('table', { name: 'Replicas' });
      expect(await table.getByRole('row').count()).toBe(3);
      await expectAccessible(page, 'deployment, dark theme');

      // Not reloaded: the page polls.
      await page.evaluate('window.notReloaded = true');
      const polls: string[] = [];
      const countPoll = (request: { url(): string }) => {
        if (request.url().endsWith('/api/v1/chat/config/status')) polls.push(request.url());
      };
      page.on('request', countPoll);
      await chatd.adminApi.request('PUT', '/api/v1/chat/config/system-prompt', {
        system_prompt: 'Be brief.',
      });
      const after = await chatd.adminApi.request<ConfigStatusJson>('GET', '/api/v1/chat/config/status');
      expect(after.version).toBeGreaterThan(before.version);
      await status
        .filter({ hasText: `Database config version ${after.version}: all 2 replicas in sync.` })
        .waitFor({ timeout: 30_000 });
      page.off('request', countPoll);
      expect(polls.length).toBeGreaterThan(0);
      for (const replica of chatd.replicas) {
        const row = table
          .getByRole('row')
          .filter({ has: page.getByRole('cell', { name: replica.replicaId }) });
        expect((await row.getByRole('cell').allTextContents()).map((text) => text.trim())).toEqual(
          expect.arrayContaining([replica.replicaId, String(after.version), 'in sync']),
        );
        expect(replica.configCache.appliedVersion).toBeGreaterThanOrEqual(after.version);
      }
      expect(await page.evaluate('window.notReloaded === true')).toBe(true);
      await expectAccessible(page, 'deployment, dark theme, after the change');
      expect(adminPage.problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});

import type { Locator, Page } from 'playwright-core';

/** A username and password that log in through the login form. */
export interface Login {
  readonly username: string;
  readonly password: string;
}

/** Opens `baseUrl`, logs in through the form (by its labels) and waits for the main navigation. */
export async function logIn(page: Page, baseUrl: string, login: Login): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Username', { exact: true }).fill(login.username);
  await page.getByLabel('Password', { exact: true }).fill(login.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** The conversation's message log (`role=log`). */
export function messageLog(page: Page): Locator {
  return page.getByRole('log', { name: 'Messages' });
}

/** The answer being streamed, while a turn runs. */
export function liveAnswer(page: Page): Locator {
  return messageLog(page).getByRole('article', { name: 'Assistant is answering' });
}

/** The assistant's finished messages. */
export function answers(page: Page): Locator {
  return messageLog(page).getByRole('article', { name: 'Assistant said' });
}

/** The chat's status line (`Ready`, `Answering…`, with the connection's state). */
export function chatStatus(page: Page): Locator {
  return page.locator('.conversation-footer').getByRole('status');
}

/** Writes `content` in the composer and presses its send button (`Start chat` on a new chat). */
export async function sendMessage(page: Page, content: string, sendLabel = 'Send'): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(content);
  await page.getByRole('button', { name: sendLabel, exact: true }).click();
}

/** Opens an admin page by the admin navigation. */
export async function openAdminPage(page: Page, section: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: section }).click();
  await page.getByRole('heading', { level: 1, name: section }).waitFor();
}

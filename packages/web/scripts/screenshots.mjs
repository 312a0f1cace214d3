#!/usr/bin/env node
/**
 * Takes the README's screenshots: starts `chatd server` (embedded PostgreSQL, a scratch cache dir), adds
 * the offline `builtin` provider and its `echo` model, logs in as the first admin in Debian's Chromium,
 * chats, and writes docs/screenshots/chat.png and docs/screenshots/admin.png.
 *
 *   npm run build && node packages/web/scripts/screenshots.mjs
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = path.join(root, 'docs', 'screenshots');
const port = 3917;
const url = `http://127.0.0.1:${port}`;

// Not created here: chatd makes it (as root, reachable by the `postgres` user that runs PostgreSQL).
const cacheDir = path.join(tmpdir(), `chatd-screenshots-${randomBytes(4).toString('hex')}`);
const server = spawn(
  process.execPath,
  [
    path.join(root, 'packages/chatd/bin/chatd.js'),
    'server',
    '--http-address',
    `127.0.0.1:${port}`,
    '--cache-dir',
    cacheDir,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let printed = '';
server.stdout.on('data', (chunk) => {
  printed += chunk;
});
try {
  while (!/chatd is ready/.test(printed)) {
    if (server.exitCode !== null) throw new Error(`chatd exited: ${printed}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const token = /chatd_[A-Za-z0-9_-]+/.exec(printed)?.[0];
  const password = /the password is:\s+(\S+)/.exec(printed)?.[1];
  if (!token || !password) throw new Error(`no admin token or password in: ${printed}`);
  const api = async (method, route, body) => {
    const response = await fetch(`${url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const provider = await api('POST', '/chat/providers', {
    provider: 'builtin',
    display_name: 'Builtin (offline)',
  });
  await api('POST', '/chat/model-configs', {
    provider_id: provider.id,
    model: 'echo',
    display_name: 'Echo',
    context_limit: 8192,
    is_default: true,
  });

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${url}/`);
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    const question = [
      'How do I **list** the files of a folder in Node.js?',
      '',
      '```js',
      "import { readdir } from 'node:fs/promises';",
      "console.log(await readdir('.'));",
      '```',
    ].join('\n');
    await page.getByRole('textbox', { name: 'Message' }).fill(question);
    await page.getByRole('button', { name: 'Start chat', exact: true }).click();
    await page
      .getByRole('log', { name: 'Messages' })
      .getByRole('article', { name: 'Assistant said' })
      .first()
      .waitFor();
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(out, 'chat.png') });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Deployment' }).click();
    await page.getByRole('heading', { level: 1, name: 'Deployment' }).waitFor();
    await page.waitForTimeout(2500);
    await page.screenshot({ path: path.join(out, 'admin.png') });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${path.join(out, 'chat.png')} and admin.png`);
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await rm(cacheDir, { recursive: true, force: true });
}

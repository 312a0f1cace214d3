import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScriptedLlm } from '../../chatd/test/support/scripted-llm.js';
import { createModel, startTestServer } from '../../chatd/test/support/test-server.js';
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
 * Two replicas on one database, as behind a load balancer: the admin works on replica A, the member
 * chats on replica B. Config caches keep entries for ten minutes, so a change seen on B came by
 * invalidation (the notification, or the heartbeat's version check), not by expiry. Every settings and
 * admin page is checked with axe-core.
 */
const TEN_MINUTES = 600_000;
const unavailable = chromiumUnavailable();
const describeBrowser = describeWithBrowser(unavailable);
const member: Login = { username: 'bo', password: 'another long password 7' };
let browser: Browser;
let chatd: WebTestCluster;
let llm: ScriptedLlm;
let adminPage: WatchedPage;
let memberPage: WatchedPage;

beforeAll(async () => {
  if (unavailable !== undefined) return;
  [browser, llm] = await Promise.all([launchBrowser(), startSlowLlm()]);
  chatd = await startWebTestCluster({
    replicas: 2,
    server: {
      configCache: {
        providersTtlMs: TEN_MINUTES,
        modelConfigTtlMs: TEN_MINUTES,
        defaultModelConfigTtlMs: TEN_MINUTES,
        systemPromptTtlMs: TEN_MINUTES,
        userPromptTtlMs: TEN_MINUTES,
      },
      // Rows of replicas silent this long are removed: long enough that a replica with a late heartbeat
      // stays listed (the deployment test below). No turn is taken over in this file.
      worker: { staleAfterMs: 60_000 },
    },
  });
  await createModel(chatd.adminApi, { provider: 'openai-compat', model: 'scripted-2', baseUrl: llm.url });
  await chatd.adminApi.request('POST', '/api/v1/users', { ...member, role: 'member' });
});
afterAll(async () => {
  await adminPage?.close();
  await memberPage?.close();
  await browser?.close();
  await chatd?.close();
  await llm?.close();
});

describeBrowser('two replicas in the browser', () => {
  it('shows every admin page accessible, and the deployment page lists both replicas in sync', async () => {
    const [replicaA] = chatd.replicas;
    adminPage = await openWatchedPage(browser);
    const { page } = adminPage;
    await logIn(page, replicaA!.url, chatd.admin);
    for (const section of ['Providers', 'Models', 'System prompt', 'Users', 'Usage', 'Deployment']) {
      await openAdminPage(page, section);
      await expectAccessible(page, `admin: ${section}`);
    }
    await page.getByRole('status').filter({ hasText: 'all 2 replicas in sync' }).waitFor();
    for (const replica of chatd.replicas) {
      await page.getByRole('cell', { name: replica.replicaId }).waitFor();
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    await expectAccessible(page, 'settings');
    expect(adminPage.problems).toEqual([]);
  });

  it('answers a chat on replica B with the system prompt just saved on replica A', async () => {
    const [replicaA, replicaB] = chatd.replicas;
    memberPage = await openWatchedPage(browser);
    const member$ = memberPage.page;
    await logIn(member$, replicaB!.url, member);
    await sendMessage(member$, 'system? (before)', 'Start chat');
    await answers(member$).filter({ hasText: 'system prompt:' }).waitFor();
    expect(await answers(member$).last().textContent()).not.toContain('Answer like a pirate');

    const before = chatd.replicas.map((replica) => replica.configCache.appliedVersion);
    const { page } = adminPage;
    await openAdminPage(page, 'System prompt');
    await page.getByRole('textbox', { name: 'System prompt' }).fill('Answer like a pirate.');
    await page.getByRole('button', { name: 'Save system prompt' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    // Both replicas applied the change (invalidated: their entries would live ten minutes).
    await expect
      .poll(() => chatd.replicas.map((replica, index) => replica.configCache.appliedVersion > before[index]!))
      .toEqual([true, true]);
    expect(replicaA!.url).not.toBe(replicaB!.url);

    await chatStatus(member$).filter({ hasText: 'Ready' }).waitFor();
    await sendMessage(member$, 'system? (after)');
    await answers(member$).nth(1).waitFor();
    expect(await answers(member$).nth(1).textContent()).toContain('Answer like a pirate.');
    await openAdminPage(page, 'Deployment');
    await page.getByRole('status').filter({ hasText: 'all 2 replicas in sync' }).waitFor();
    expect(memberPage.problems).toEqual([]);
  });

  it('shows a replica that has not reported the database’s config version as behind, and by how much', async () => {
    // A third replica that reports its applied version only at start (its heartbeat is ten minutes):
    // to the deployment page it is a replica whose heartbeat is late, as a saturated one's would be.
    const late = await startTestServer(chatd.database.url, { replicaHeartbeatMs: TEN_MINUTES });
    try {
      const page = adminPage.page;
      await openAdminPage(page, 'Deployment');
      const status = page.getByRole('status').filter({ hasText: 'Database config version' });
      await status.filter({ hasText: 'all 3 replicas in sync.' }).waitFor();
      await chatd.adminApi.request('PUT', '/api/v1/chat/config/system-prompt', { system_prompt: 'Be late.' });
      await status.filter({ hasText: '1 of 3 replicas behind.' }).waitFor();
      expect(await status.getAttribute('class')).toContain('notice-warning');
      const table = page.getByRole('table', { name: 'Replicas' });
      const lateRow = table
        .getByRole('row')
        .filter({ has: page.getByRole('cell', { name: late.replicaId }) });
      const { version } = await chatd.adminApi.request<{ version: number }>(
        'GET',
        '/api/v1/chat/config/status',
      );
      const cells = (await lateRow.getByRole('cell').allTextContents()).map((text) => text.trim());
      const reported = Number(cells[1]);
      expect(reported).toBeLessThan(version);
      expect(cells[2]).toBe(`behind by ${version - reported}`);
      // The other two report the new version: in sync.
      for (const replica of chatd.replicas) {
        const row = table
          .getByRole('row')
          .filter({ has: page.getByRole('cell', { name: replica.replicaId }) });
        await row.getByRole('cell', { name: 'in sync', exact: true }).waitFor();
      }
      await expectAccessible(page, 'deployment with a replica behind');
      expect(adminPage.problems).toEqual([]);
    } finally {
      await late.close();
    }
  });
});

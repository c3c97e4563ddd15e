import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BROWSER_TEST_MS, useChromiumPages } from '../helpers/chromium-pages';
import { ADMIN_TOKEN, api } from '../helpers/server';
import { describeWithChromium } from './chromium';

/**
 * The demo chat and the admin page in headless Chromium against a real server.
 * With SB_SCREENSHOTS=1 the run also refreshes the README's screenshots in docs/.
 */
const screenshots = process.env['SB_SCREENSHOTS'] === '1';
const docs = join(__dirname, '..', '..', 'docs');

describeWithChromium('admin page and demo chat in Chromium', () => {
  const pages = useChromiumPages({ RATE_LIMIT_PER_S: '0' });
  const { problems, open } = pages;
  let ann: Page;
  let bob: Page;

  afterEach(() => {
    // Script errors and CSP violations would otherwise pass silently.
    expect(problems).toEqual([]);
  });

  async function joinDemo(page: Page, id: string, name: string): Promise<void> {
    await page.fill('#join input[name=name]', name);
    await page.fill('#join input[name=id]', id);
    await page.fill('#join input[name=teamId]', 'demo');
    await page.click('#join button');
    await page.locator('#status', { hasText: `connected as ${name}` }).waitFor();
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
    await page
      .locator('#log li.mine', { hasText: text })
      .locator('.state', { hasText: '✓' })
      .waitFor();
  }

  test(
    'two pages chat through the demo and see each other online',
    async () => {
      ann = await open('/');
      await joinDemo(ann, 'ann', 'Ann');
      bob = await open('/');
      await joinDemo(bob, 'bob', 'Bob 张三');

      await ann.locator('#members li[data-user="bob"]', { hasText: 'Bob 张三' }).waitFor();
      await bob.locator('#members li[data-user="ann"]', { hasText: 'Ann' }).waitFor();
      await ann.locator('#log li', { hasText: 'Bob 张三 joined.' }).waitFor();

      await say(ann, 'Hello Bob, 你好');
      await bob
        .locator('#log li', { hasText: 'Hello Bob, 你好' })
        .locator('.from', { hasText: 'Ann' })
        .waitFor();
      await say(bob, 'Hi Ann! Kick me from the admin page.');
      await ann.locator('#log li', { hasText: 'Hi Ann! Kick me' }).waitFor();

      // A direct message reaches only its recipient.
      await bob.selectOption('#to', 'ann');
      await say(bob, 'just for you');
      await ann
        .locator('#log li', { hasText: 'just for you' })
        .locator('.pill', { hasText: 'direct' })
        .waitFor();

      if (screenshots) {
        mkdirSync(docs, { recursive: true });
        await ann.bringToFront();
        await ann.setViewportSize({ width: 1000, height: 520 });
        await ann.screenshot({ path: join(docs, 'demo.png') });
      }
    },
    BROWSER_TEST_MS,
  );

  test(
    'the admin page signs in, lists connections, kicks one, and the kicked page shows it',
    async () => {
      // A stored team nobody is connected to is listed too.
      await api(pages.server, 'POST', '/api/teams', { body: { id: 'ops', name: 'Operations' } });
      const admin = await open('/admin');
      await admin.fill('#signin input[name=token]', 'not-the-token-0123456789');
      await admin.click('#signin button');
      await admin.locator('#signin-error', { hasText: 'refused' }).waitFor();
      // Chromium logs the refused request (401) as a console error: expected here.
      problems.splice(0);

      await admin.fill('#signin input[name=token]', ADMIN_TOKEN);
      await admin.click('#signin button');
      await admin
        .locator('#teams tr[data-team="demo"] td[data-label="Connections"]', { hasText: /^2$/ })
        .waitFor();
      await admin.locator('#teams tr[data-team="ops"]', { hasText: 'Operations' }).waitFor();
      // Only this tab's session storage holds the token.
      expect(await admin.evaluate('sessionStorage.getItem("switchboard.adminToken")')).toBe(
        ADMIN_TOKEN,
      );
      expect(await admin.evaluate('localStorage.length')).toBe(0);

      await admin.click('#teams tr[data-team="demo"]');
      const bobRow = admin.locator('#connections tr[data-user="bob"]');
      await bobRow.waitFor();
      await admin.locator('#connections tr[data-user="ann"]').waitFor();
      expect(await bobRow.textContent()).toContain('test-node');
      expect(await bobRow.textContent()).toContain('127.0.0.1');
      await admin.locator('#history li', { hasText: 'Hello Bob, 你好' }).waitFor();

      if (screenshots) {
        await admin.setViewportSize({ width: 1280, height: 660 });
        await admin.screenshot({ path: join(docs, 'admin.png') });
      }

      const kicked = await bobRow.getAttribute('data-conn');
      await bobRow.locator('button', { hasText: 'Kick' }).click();
      await bob.locator('#log li', { hasText: 'kicked by an admin (4000)' }).waitFor();
      // The library reconnects on its own, and the admin page sees the new connection.
      await bob.locator('#log li', { hasText: 'Reconnected.' }).waitFor();
      await admin
        .locator(`#connections tr[data-user="bob"]:not([data-conn="${kicked}"])`)
        .waitFor();

      // Publishing from the admin page reaches the demo pages.
      await admin.fill('#publish textarea', 'Maintenance at 18:00');
      await admin.click('#publish button');
      await ann
        .locator('#log li', { hasText: 'Maintenance at 18:00' })
        .locator('.from', { hasText: 'system' })
        .waitFor();
      await bob.locator('#log li', { hasText: 'Maintenance at 18:00' }).waitFor();

      if (screenshots) {
        await admin.setViewportSize({ width: 390, height: 844 });
        await admin.locator('#connections tr[data-user="ann"]').scrollIntoViewIfNeeded();
        await admin.screenshot({ path: join(docs, 'admin-phone.png') });
      }
    },
    BROWSER_TEST_MS,
  );
});

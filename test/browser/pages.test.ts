import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { BROWSER_TEST_MS, useChromiumPages } from '../helpers/chromium-pages';
import { joinDemo, say } from '../helpers/demo-page';
import { connect } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { ADMIN_TOKEN, api } from '../helpers/server';
import { describeWithChromium } from './chromium';

/**
 * The demo chat and the admin page in headless Chromium against a real server.
 * With SB_SCREENSHOTS=1 the run also refreshes the README's screenshots in docs/.
 */
const screenshots = process.env['SB_SCREENSHOTS'] === '1';
const docs = join(__dirname, '..', '..', 'docs');

describeWithChromium('admin page and demo chat in Chromium', () => {
  const pages = useChromiumPages({ RATE_LIMIT_PER_S: '0', STATS_INTERVAL_MS: '250' });
  const { problems, open } = pages;
  let ann: Page;
  let bob: Page;

  afterEach(() => {
    // Script errors and CSP violations would otherwise pass silently.
    expect(problems).toEqual([]);
  });

  test(
    'two pages chat through the demo and see each other online',
    async () => {
      ann = await open('/');
      await joinDemo(ann, 'ann', { name: 'Ann' });
      bob = await open('/');
      await joinDemo(bob, 'bob', { name: 'Bob 张三' });

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
      // A kick asks first: cancelling it kicks nobody.
      await bobRow.locator('button', { hasText: 'Kick' }).click();
      await admin.locator('#confirm h2', { hasText: 'Kick Bob 张三?' }).waitFor();
      await admin.click('#confirm button[value=cancel]');
      await admin.locator('#confirm').waitFor({ state: 'hidden' });
      expect(await bob.locator('#log li', { hasText: 'kicked by an admin' }).count()).toBe(0);
      await bobRow.locator('button', { hasText: 'Kick' }).click();
      await admin.click('#confirm #confirm-ok');
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

  test(
    'the live charts move while messages flow, for the node and the cluster',
    async () => {
      const admin = await open('/admin');
      await admin.fill('#signin input[name=token]', ADMIN_TOKEN);
      await admin.click('#signin button');
      const messages = admin.locator('#chart-messagesPerS');
      await admin.locator('#chart-connections[data-points]:not([data-points="0"])').waitFor();
      const before = await messages.locator('polyline').getAttribute('points');

      const sender = await connect(pages.server.socketUrl, {
        id: 'chart-sender',
        teamId: 'charts',
      });
      // A teammate that reads, so deliveries flow too.
      const reader = await connect(pages.server.socketUrl, {
        id: 'chart-reader',
        teamId: 'charts',
      });
      try {
        // Messages until the page has drawn a sample that saw them: a condition, not a sleep.
        await eventually(async () => {
          for (let i = 0; i < 5; i++) sender.send({ type: 'team', data: `tick ${i}` });
          for (let i = 0; i < 5; i++) await sender.next('ack');
          const deliveries = admin.locator('#chart-deliveriesPerS');
          return (
            Number(await messages.getAttribute('data-latest')) > 0 &&
            Number(await deliveries.getAttribute('data-latest')) > 0 &&
            // Redrawn since: earlier tests' traffic may already show.
            (await messages.locator('polyline').getAttribute('points')) !== before
          );
        }, 20_000);
        expect(
          Number(await admin.locator('#chart-connections').getAttribute('data-latest')),
        ).toBeGreaterThanOrEqual(1);

        await admin.check('#stats input[value=cluster]');
        await admin.locator('#stats-nodes', { hasText: '1 node' }).waitFor();
        await eventually(async () => {
          sender.send({ type: 'team', data: 'cluster tick' });
          await sender.next('ack');
          return Number(await messages.getAttribute('data-latest')) > 0;
        }, 20_000);
        await admin.check('#stats input[value=node]');

        if (screenshots) {
          // A minute-like shape for the picture: a steady flow that ramps up.
          for (let round = 1; round <= 40; round++) {
            for (let i = 0; i < round; i++) sender.send({ type: 'team', data: `flow ${i}` });
            for (let i = 0; i < round; i++) await sender.next('ack');
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          await admin.waitForTimeout(600);
          await admin.setViewportSize({ width: 1280, height: 760 });
          await admin.screenshot({ path: join(docs, 'admin-live.png') });
        }
      } finally {
        await sender.close();
        await reader.close();
      }
    },
    BROWSER_TEST_MS,
  );

  test(
    'the admin page bans a user after confirmation, lists the ban and lifts it',
    async () => {
      // A new tab: its session storage holds no token yet.
      const admin = await open('/admin#team=demo');
      await admin.fill('#signin input[name=token]', ADMIN_TOKEN);
      await admin.click('#signin button');
      const bobRow = admin.locator('#connections tr[data-user="bob"]');
      await bobRow.waitFor();
      await admin.locator('#no-bans').waitFor();

      // Cancelling the confirmation bans nobody.
      await bobRow.locator('button', { hasText: 'Ban' }).click();
      await admin.locator('#confirm h2', { hasText: 'Ban Bob 张三 (bob)?' }).waitFor();
      await admin.press('#confirm', 'Escape');
      await admin.locator('#confirm').waitFor({ state: 'hidden' });
      expect((await api(pages.server, 'GET', '/api/bans')).body).toEqual({ bans: [] });

      await bobRow.locator('button', { hasText: 'Ban' }).click();
      await admin.selectOption('#confirm select[name=seconds]', '0');
      await admin.fill('#confirm input[name=reason]', 'test ban 测试');
      await admin.click('#confirm #confirm-ok');
      await admin.locator('#ban-result', { hasText: 'bob banned in demo' }).waitFor();
      // The demo page is told, and its library does not reconnect.
      await bob.locator('#log li', { hasText: 'banned by an admin (4003)' }).waitFor();
      await bob.locator('#status', { hasText: 'banned by an admin; not reconnecting' }).waitFor();
      const banRow = admin.locator('#bans tr[data-user="bob"][data-team="demo"]');
      await banRow.waitFor();
      expect(await banRow.textContent()).toContain('test ban 测试');
      await admin.locator('#connections tr[data-user="bob"]').waitFor({ state: 'detached' });
      await ann.locator('#members li[data-user="bob"]').waitFor({ state: 'detached' });

      await banRow.locator('button', { hasText: 'Lift' }).click();
      await admin.locator('#ban-result', { hasText: 'ban of bob was lifted' }).waitFor();
      await admin.locator('#no-bans').waitFor();
      expect((await api(pages.server, 'GET', '/api/bans')).body).toEqual({ bans: [] });
    },
    BROWSER_TEST_MS,
  );

  test(
    'the admin page links the OpenAPI document and saves it with the token',
    async () => {
      const admin = await open('/admin');
      await admin.fill('#signin input[name=token]', ADMIN_TOKEN);
      await admin.click('#signin button');
      const link = admin.locator('#openapi');
      await link.waitFor();
      expect(await link.getAttribute('href')).toBe('/api/openapi.json');
      const [download] = await Promise.all([admin.waitForEvent('download'), link.click()]);
      expect(download.suggestedFilename()).toBe('switchboard-openapi.json');
      const path = await download.path();
      const spec = JSON.parse(readFileSync(path, 'utf8')) as { openapi: string; paths: object };
      expect(spec.openapi).toBe('3.1.0');
      expect(Object.keys(spec.paths)).toContain('/api/teams/{teamId}');
    },
    BROWSER_TEST_MS,
  );
});

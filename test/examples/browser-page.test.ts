import type { Page } from 'playwright-core';
import { describeWithChromium } from '../browser/chromium';
import { BROWSER_TEST_MS, useChromiumPages } from '../helpers/chromium-pages';
import { startTestServer, type TestServer } from '../helpers/server';

/** The example page (examples/browser) as the server serves it, in headless Chromium. */

describe('example page over HTTP', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  test('is served without a token, under the page CSP, and only from its fixed list', async () => {
    const page = await fetch(`${server.http}/examples/browser/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('src="chat.js"');

    const script = await fetch(`${server.http}/examples/browser/chat.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');

    const bare = await fetch(`${server.http}/examples/browser`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/examples/browser/');

    for (const path of ['/examples/browser/index.html', '/examples/node-bot/echo-bot.ts']) {
      expect((await fetch(`${server.http}${path}`)).status).not.toBe(200);
    }
  });
});

describeWithChromium('example page in Chromium', () => {
  const pages = useChromiumPages({ RATE_LIMIT_PER_S: '0' });

  async function joinAs(id: string, name: string): Promise<Page> {
    const page = await pages.open('/examples/browser/', id);
    // The page fills in the socket of the server it came from.
    expect(await page.inputValue('#join input[name=url]')).toBe(pages.server.socketUrl);
    await page.fill('#join input[name=name]', name);
    await page.fill('#join input[name=id]', id);
    await page.fill('#join input[name=teamId]', 'example');
    await page.click('#join button');
    await page.locator('#status', { hasText: `connected as ${name}` }).waitFor();
    return page;
  }

  test(
    'two pages see each other online and exchange a message',
    async () => {
      const ann = await joinAs('ann', 'Ann');
      const bob = await joinAs('bob', 'Bob 张三');
      await ann.locator('#members li[data-user="bob"]', { hasText: 'Bob 张三' }).waitFor();
      await bob.locator('#members li[data-user="ann"]', { hasText: 'Ann' }).waitFor();

      await ann.fill('#text', 'Hello Bob, 你好');
      await ann.press('#text', 'Enter');
      await ann.locator('#log li.mine', { hasText: 'Hello Bob, 你好 ✓' }).waitFor();
      await bob
        .locator('#log li', { hasText: 'Hello Bob, 你好' })
        .locator('.from', { hasText: 'Ann' })
        .waitFor();

      await bob.fill('#text', 'Hi Ann');
      await bob.click('#say button');
      await ann.locator('#log li', { hasText: 'Hi Ann' }).locator('.from').waitFor();

      await bob.close();
      await ann.locator('#log li', { hasText: 'Bob 张三 left.' }).waitFor();
      await ann.locator('#members li[data-user="bob"]').waitFor({ state: 'detached' });
      // Script errors and CSP violations would otherwise pass silently.
      expect(pages.problems).toEqual([]);
    },
    BROWSER_TEST_MS,
  );
});

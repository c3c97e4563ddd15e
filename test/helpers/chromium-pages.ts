import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from '../browser/chromium';
import { buildClientOnce } from './build-client';
import { startTestServer, type TestServer } from './server';

/** A browser on a busy CI machine is slow; each step waits on a condition, never a sleep. */
export const BROWSER_TEST_MS = 45_000;

export interface ChromiumPages {
  /** The server the pages come from (set once the suite's beforeAll has run). */
  readonly server: TestServer;
  /** Script errors and console errors of every page opened, each under its label. */
  readonly problems: string[];
  /** A new page on `path` of the server; its errors go to `problems` under `label`. */
  open(path: string, label?: string): Promise<Page>;
}

/**
 * For a describe block: builds the client, starts a server with `env` and headless
 * Chromium before its tests, and closes both after them.
 */
export function useChromiumPages(env: Record<string, string>): ChromiumPages {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    buildClientOnce();
    server = await startTestServer(env);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const started = (): { server: TestServer; browser: Browser } => {
    if (!server || !browser) throw new Error('used outside the tests of its describe block');
    return { server, browser };
  };

  return {
    get server() {
      return started().server;
    },
    problems,
    async open(path, label = path) {
      const { server, browser } = started();
      const page = await browser.context.newPage();
      page.on('pageerror', (err) => problems.push(`${label}: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`${label}: ${msg.text()}`);
      });
      await page.goto(`${server.http}${path}`);
      return page;
    },
  };
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's package (`apt-get install -y chromium`); playwright downloads no browser here. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return spawnSync(CHROMIUM_PATH, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `describe` for suites that need Chromium. Without it the suite is skipped with a
 * plain note, except under CI=true, where it runs and fails: CI must not pass by
 * skipping the browser tests.
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (chromiumAvailable() || process.env['CI'] === 'true') {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `SKIPPED "${name}": no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium; CI=true makes this a failure)\n`,
  );
  describe.skip(name, body);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile (user data dir) that is removed on close. */
export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'sb-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 800 },
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

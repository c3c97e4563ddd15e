import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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

const root = join(__dirname, '..', '..');

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

/** Moves every file of `from` to the same place under `to`, one rename per file. */
function moveFiles(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    // A folder cannot be renamed onto a non-empty one; its files can.
    if (statSync(source).isDirectory()) moveFiles(source, join(to, name));
    else renameSync(source, join(to, name));
  }
}

/**
 * Compiles the client (client/ and protocol/) to dist/client as `npm run
 * build:client` does. Files are written elsewhere first and renamed into place,
 * so a server in another jest worker never serves a half-written module.
 */
export function buildClient(): void {
  const dest = join(root, 'dist', 'client');
  mkdirSync(dest, { recursive: true });
  // Beside the destination: a rename across file systems would fail.
  const out = mkdtempSync(join(root, 'dist', '.client-'));
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(root, 'client', 'tsconfig.json'),
        '--outDir',
        out,
      ],
      { cwd: root, stdio: 'pipe' },
    );
    writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
    moveFiles(out, dest);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
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

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildOnce } from './build-once';

const root = join(__dirname, '..', '..');

/** Where the client package's build lands: the browser module and its type declarations. */
export const CLIENT_PACKAGE_DIR = join(root, 'client');

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
 * Compiles the client (client/ and protocol/) to client/dist as `npm run
 * build:client` does. Files are written elsewhere first and renamed into place,
 * so a server in another jest worker never serves (and `npm pack` never packs) a
 * half-written module.
 */
export function buildClient(): void {
  const dest = join(CLIENT_PACKAGE_DIR, 'dist');
  mkdirSync(dest, { recursive: true });
  // Inside the destination: a rename across file systems would fail, and
  // client/dist is already outside every tsconfig, lint and git.
  const out = mkdtempSync(join(dest, '.build-'));
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(CLIENT_PACKAGE_DIR, 'tsconfig.json'),
        '--outDir',
        out,
      ],
      { cwd: root, stdio: 'pipe' },
    );
    moveFiles(out, dest);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * buildClient, skipped when nothing it compiles (client/*.ts, protocol/) nor a
 * config changed since the last build a test made: five suites of a run need it.
 */
export function buildClientOnce(): void {
  const sources = readdirSync(CLIENT_PACKAGE_DIR)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join('client', name));
  buildOnce({
    stamp: join('dist', '.test-client-build-stamp'),
    inputs: ['client/tsconfig.json', ...sources, 'protocol'],
    output: join('client', 'dist', 'client', 'switchboard-client.js'),
    build: buildClient,
  });
}

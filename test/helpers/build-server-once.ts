import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer } from '../../support/node-process';

const root = join(__dirname, '..', '..');
/** Written after each build, dated from its start: later edits are newer than it. */
const STAMP = join(root, 'dist', '.test-build-stamp');
/** What `tsconfig.build.json` compiles, and the configs that say how. */
const INPUTS = ['app', 'middleware', 'protocol', 'routes', 'services'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newestInput(): number {
  let newest = Math.max(...CONFIGS.map((f) => statSync(join(root, f)).mtimeMs));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of INPUTS) walk(join(root, dir));
  return newest;
}

function stampTime(): number {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * buildServer for suites that spawn `node dist/app/main.js`, skipped when no input
 * changed since the last build a test made. Even with nothing to do, tsc loads and
 * checks the whole program (about 3 s of CPU), and seven files build in one run.
 */
export function buildServerOnce(): void {
  if (existsSync(join(root, 'dist', 'app', 'main.js')) && stampTime() > newestInput()) return;
  const started = new Date();
  buildServer();
  writeFileSync(STAMP, '');
  utimesSync(STAMP, started, started);
}

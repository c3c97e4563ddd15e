import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(__dirname, '..', '..');
/** The configs that say how every build here compiles. */
const CONFIGS = ['tsconfig.json', 'package.json'];

export interface OnceBuild {
  /** Written after each build, dated from its start: later edits are newer than it. */
  stamp: string;
  /** Folders and files (from the checkout's root) whose change calls for a build. */
  inputs: string[];
  /** A file the build writes: the build runs again when it is missing. */
  output: string;
  build(): void;
}

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

function stampTime(stamp: string): number {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Runs `build` unless its output is there and no input changed since the stamp of
 * the last build a test made. Even with nothing to do, tsc loads and type-checks its
 * whole program (seconds of CPU), and several files of one run need each build.
 */
export function buildOnce({ stamp, inputs, output, build }: OnceBuild): void {
  const stampPath = join(root, stamp);
  const latest = Math.max(...[...CONFIGS, ...inputs].map((p) => newest(join(root, p))));
  if (existsSync(join(root, output)) && stampTime(stampPath) > latest) return;
  const started = new Date();
  build();
  mkdirSync(dirname(stampPath), { recursive: true });
  writeFileSync(stampPath, '');
  utimesSync(stampPath, started, started);
}

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Report } from './report/report';
import { writeOutputs } from './report/write-outputs';

/**
 * Rewrites README.md and ratios.svg of a results directory from its results.json,
 * after a change to the report code, without running the bench again:
 *   node dist/bench/render.js [dir]   (default docs/bench)
 */

function isReport(value: unknown): value is Report {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof Reflect.get(value, 'generatedAt') === 'string' &&
    typeof Reflect.get(value, 'machine') === 'object' &&
    typeof Reflect.get(value, 'options') === 'object' &&
    Array.isArray(Reflect.get(value, 'scenarios')) &&
    Array.isArray(Reflect.get(value, 'rounds'))
  );
}

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? 'docs/bench');
  const parsed: unknown = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  if (!isReport(parsed)) throw new Error(`${dir}/results.json is not a bench report`);
  const files = await writeOutputs(parsed, dir);
  process.stdout.write(`rewrote ${files.join(', ')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`render: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

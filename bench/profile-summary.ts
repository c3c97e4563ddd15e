import { readFileSync } from 'node:fs';

/**
 * Prints where a .cpuprofile (from `npm run bench -- --cpu-prof`) spent its time:
 * the top functions by self time, and by total time including callees.
 *   node dist/bench/profile-summary.js <file.cpuprofile> [rows]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function isProfile(value: unknown): value is Profile {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray(Reflect.get(value, 'nodes')) &&
    Array.isArray(Reflect.get(value, 'samples')) &&
    Array.isArray(Reflect.get(value, 'timeDeltas'))
  );
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules\/|dist\/)/, '$1');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
}

function main(): void {
  // `| head` closing the pipe is not an error.
  process.stdout.on('error', () => process.exit(0));
  const [file, rowsArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile> [rows]\n');
    process.exit(2);
  }
  const rows = Number(rowsArg ?? 30);
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isProfile(parsed)) throw new Error(`${file} is not a .cpuprofile`);
  const byId = new Map(parsed.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of parsed.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  parsed.samples.forEach((id, i) => {
    const dt = parsed.timeDeltas[i] ?? 0;
    all += dt;
    const node = byId.get(id);
    if (!node) return;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    // Each label once per sample, however deep the recursion.
    const seen = new Set<string>();
    for (let at: number | undefined = id, depth = 0; at !== undefined && depth < 500; depth++) {
      const n = byId.get(at);
      if (!n) break;
      seen.add(label(n));
      at = parent.get(at);
    }
    for (const l of seen) total.set(l, (total.get(l) ?? 0) + dt);
  });
  // Percentages of busy time: a server waiting for work is not a hot path.
  const busy = all - (self.get('(idle)') ?? 0);
  self.delete('(idle)');
  total.delete('(idle)');
  total.delete('(root)');
  const print = (title: string, map: Map<string, number>) => {
    process.stdout.write(
      `\n${title}, % of ${(busy / 1000).toFixed(0)} ms busy (${(all / 1000).toFixed(0)} ms sampled)\n`,
    );
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)
      .forEach(([name, us]) => {
        process.stdout.write(`${((us / busy) * 100).toFixed(1).padStart(6)} %  ${name}\n`);
      });
  };
  print('self time', self);
  print('total time', total);
}

main();

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The README and docs/ link to one another and into the code; a fresh clone must
 * have every target. A link leaving the repository, a missing file or a missing
 * heading fails here rather than in a newcomer's browser.
 */
const root = resolve(__dirname, '..', '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return path.endsWith('.md') ? [path] : [];
  });
}

const files = [
  join(root, 'README.md'),
  ...markdownFiles(join(root, 'docs')),
  // The client package's own pages, which link back into the repository.
  join(root, 'client', 'README.md'),
  join(root, 'client', 'CHANGELOG.md'),
];

/** Markdown outside fenced code blocks, where a `#` line is a heading, not a comment. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1 on repeats. */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

interface Link {
  file: string;
  target: string;
}

const links: Link[] = files.flatMap((file) => {
  const text = prose(readFileSync(file, 'utf8')).replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/<img [^>]*src="([^"]+)"/g)].map((m) => m[1]!),
  ];
  return targets
    .filter((t) => !/^(https?|mailto):/.test(t))
    .map((target) => ({ file: relative(root, file), target }));
});

test('the scan sees the links', () => {
  expect(links.length).toBeGreaterThan(20);
});

test('every relative link stays in the repository and finds its file and heading', () => {
  const broken = links.filter(({ file, target }) => {
    const [path = '', anchor] = target.split('#');
    const resolved = path === '' ? join(root, file) : resolve(root, dirname(file), path);
    if (relative(root, resolved).startsWith('..') || !existsSync(resolved)) return true;
    if (anchor === undefined) return false;
    return !resolved.endsWith('.md') || !anchorsOf(resolved).has(anchor);
  });
  expect(broken).toEqual([]);
});

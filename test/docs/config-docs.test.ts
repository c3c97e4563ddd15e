import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * docs/CONFIGURATION.md promises every variable of app/config.ts, in its summary
 * table and in its details; this keeps the page from falling behind the code.
 */
const root = join(__dirname, '..', '..');
const configSource = readFileSync(join(root, 'app', 'config.ts'), 'utf8');
const page = readFileSync(join(root, 'docs', 'CONFIGURATION.md'), 'utf8');

/** The schema's keys: the environment variables the server reads. */
const inCode = new Set([...configSource.matchAll(/^\s*([A-Z][A-Z0-9_]+)\s*:/gm)].map((m) => m[1]));
const detailsPart = page.slice(0, page.indexOf('## Variables read by tools'));
const inTable = new Set([...detailsPart.matchAll(/^\| `([A-Z][A-Z0-9_]+)` /gm)].map((m) => m[1]));
const inDetails = new Set(
  [...detailsPart.matchAll(/^- \*\*`([A-Z][A-Z0-9_]+)`\*\*/gm)].map((m) => m[1]),
);

test('the scan finds the variables of app/config.ts', () => {
  expect(inCode.size).toBeGreaterThanOrEqual(30);
});

test('the summary table lists exactly the variables of app/config.ts', () => {
  expect([...inTable].sort()).toEqual([...inCode].sort());
});

test('every variable of app/config.ts has its paragraph, and no other does', () => {
  expect([...inDetails].sort()).toEqual([...inCode].sort());
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The "In Node" snippet of docs/CLIENT.md is examples/node-bot/hello.ts, which
 * `npm run lint` type-checks and lints; this keeps the page from drifting away from it.
 */
test('the "In Node" snippet of docs/CLIENT.md is examples/node-bot/hello.ts', () => {
  const root = join(__dirname, '..', '..');
  const page = readFileSync(join(root, 'docs', 'CLIENT.md'), 'utf8');
  const section = page.slice(page.indexOf('### In Node'));
  const snippet = /```ts\n([\s\S]*?)```\n/.exec(section)?.[1];
  expect(snippet).toBe(readFileSync(join(root, 'examples', 'node-bot', 'hello.ts'), 'utf8'));
});

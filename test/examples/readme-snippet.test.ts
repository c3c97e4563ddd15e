import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The README's Node snippet is examples/node-bot/hello.ts, which `npm run lint`
 * type-checks and lints; this keeps the README from drifting away from it.
 */
test('the README "In Node" snippet is examples/node-bot/hello.ts', () => {
  const root = join(__dirname, '..', '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### In Node'));
  const snippet = /```ts\n([\s\S]*?)```\n/.exec(section)?.[1];
  expect(snippet).toBe(readFileSync(join(root, 'examples', 'node-bot', 'hello.ts'), 'utf8'));
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../../app/config';

/**
 * What the grouped schema promises beyond loadConfig's answers: each variable is
 * read once, and the docs show every variable with the default the code uses.
 */
const root = join(__dirname, '..', '..');

/** Every variable the groups read, with the default it takes when unset (undefined: none). */
const variables = Object.values(configSchema.shape).flatMap((group) =>
  Object.entries(group.in.shape).map(([name, type]) => {
    const unset = type.safeParse(undefined);
    return { name, fallback: unset.success ? unset.data : undefined };
  }),
);

/** The README and docs/: the full configuration table may live in either. */
const docLines = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => join('docs', f))]
  .filter((f) => f.endsWith('.md'))
  .flatMap((f) => readFileSync(join(root, f), 'utf8').split('\n'));

test('the schema reads each variable in one group only', () => {
  const names = variables.map((v) => v.name);
  expect(names.length).toBeGreaterThan(30);
  expect(new Set(names).size).toBe(names.length);
});

describe.each(variables)('$name', ({ name, fallback }) => {
  const lines = docLines.filter((line) => line.includes(`\`${name}\``));

  test('is documented', () => {
    expect(lines.length).toBeGreaterThan(0);
  });

  if (fallback !== undefined) {
    test(`is documented with its default, ${String(fallback)}`, () => {
      expect(lines.some((line) => line.includes(`\`${String(fallback)}\``))).toBe(true);
    });
  }
});

import { Parser } from 'node-sql-parser';
import { insertMessages, MAX_ARCHIVE_ROWS, MIGRATIONS, SQL } from '../../services/sql/statements';

/** Every statement the SQL Server store issues, parsed as T-SQL (no server needed). */
const parser = new Parser();
const statements: [string, string][] = [
  ...Object.entries(SQL),
  ...MIGRATIONS.flatMap((m) =>
    m.statements.map((s, i): [string, string] => [`migration ${m.version}.${i + 1}`, s]),
  ),
  ['insertMessages(1)', insertMessages(1)],
  [`insertMessages(${MAX_ARCHIVE_ROWS})`, insertMessages(MAX_ARCHIVE_ROWS)],
];

test.each(statements)('%s parses as T-SQL', (_name, text) => {
  expect(() => parser.astify(text, { database: 'TransactSQL' })).not.toThrow();
});

test.each(statements)('%s carries values only as @parameters', (_name, text) => {
  // The only literals are fixed object names; nothing a client sends is spliced in.
  const literals = text.match(/'[^']*'/g) ?? [];
  expect(literals.every((l) => /^'(dbo\.switchboard_schema|U)'$/.test(l))).toBe(true);
});

test('a full archive batch stays under the 2,100 parameters of one request', () => {
  const params = new Set(insertMessages(MAX_ARCHIVE_ROWS).match(/@\w+/g));
  expect(params.size).toBe(MAX_ARCHIVE_ROWS * 9);
  expect(params.size).toBeLessThan(2100);
});

test('migrations are numbered from 1 without gaps', () => {
  expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
});

// node-sql-parser reads `TOP (@limit)` as a call of a function named TOP, so the
// bound is checked on the text; the statements still parse as T-SQL above.
test.each(Object.entries(SQL).filter(([, text]) => /^SELECT .* FROM dbo\.messages /.test(text)))(
  '%s reads at most @limit rows: no read of the archive is unbounded',
  (_name, text) => {
    expect(text).toMatch(/^SELECT TOP \(@limit\) /);
  },
);

test('messagesBetween reads a page of the oldest rows first', () => {
  expect(SQL.messagesBetween).toMatch(/^SELECT TOP \(@limit\) /);
  expect(SQL.messagesBetween).toMatch(/ ORDER BY seq ASC$/);
});

import fc from 'fast-check';
import pino from 'pino';
import type { ArchivedMessage } from '../../services/archive';
import { idSchema, nameSchema } from '../../services/identifiers';
import { SqlArchive } from '../../services/sql/archive';
import { SqlStore } from '../../services/sql/store';
import { SQL } from '../../services/sql/statements';
import {
  capturingConnection,
  schemaAfterMigrations,
  type BoundParameter,
  type ColumnType,
} from '../helpers/fake-sql';

/**
 * What validation accepts, the database stores: every value the schemas admit
 * fits the parameter it is bound to, and every parameter fits its column. Names
 * are validated in code points; NVARCHAR counts UTF-16 units. No server needed.
 */
const log = pino({ level: 'silent' });
const schema = schemaAfterMigrations();

function column(table: string, name: string): ColumnType {
  const type = schema.get(table)?.get(name);
  if (!type) throw new Error(`no column ${table}.${name} after the migrations`);
  return type;
}

function fits(value: string, type: ColumnType): boolean {
  return type.length === 'max' || (type.length !== undefined && value.length <= type.length);
}

/** Names up to 100 code points, leaning on the ones that are two UTF-16 units. */
const acceptedName = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
    fc.string({ unit: fc.constantFrom('😀', '𝄞', '张', 'a'), minLength: 90, maxLength: 100 }),
  )
  .filter((s) => nameSchema.safeParse(s).success);

const acceptedId = fc
  .string({ unit: fc.constantFrom(...'AZaz09_.:@-'.split('')), minLength: 1, maxLength: 64 })
  .filter((s) => idSchema.safeParse(s).success);

const EMOJI_100 = '😀'.repeat(100);

test('100 emoji are a valid name (the case that used to break the archive)', () => {
  expect(nameSchema.safeParse(EMOJI_100).success).toBe(true);
  expect(EMOJI_100.length).toBe(200);
});

test('every name validation accepts fits the name columns', () => {
  fc.assert(
    fc.property(acceptedName, (name) => {
      expect(fits(name, column('teams', 'name'))).toBe(true);
      expect(fits(name, column('messages', 'sender_name'))).toBe(true);
    }),
    { examples: [[EMOJI_100]], endOnFailure: true },
  );
});

test('every id validation accepts fits the id columns', () => {
  fc.assert(
    fc.property(acceptedId, (id) => {
      for (const [table, name] of [
        ['teams', 'id'],
        ['messages', 'team_id'],
        ['messages', 'sender_id'],
        ['messages', 'recipient_id'],
      ] as const)
        expect(fits(id, column(table, name))).toBe(true);
    }),
    { examples: [['x'.repeat(64)]], endOnFailure: true },
  );
});

/** A bound string fits its declared length, and the declared length fits the column. */
function expectBindingFits(input: BoundParameter, target: ColumnType): void {
  if (typeof input.value !== 'string') return;
  const declared: ColumnType = {
    dataType: input.type,
    length: input.length === 65535 ? 'max' : input.length,
  };
  expect({ param: input.name, fitsParameter: fits(input.value, declared) }).toEqual({
    param: input.name,
    fitsParameter: true,
  });
  const wider =
    declared.length === 'max' || target.length === 'max'
      ? target.length === 'max'
      : declared.length! <= target.length!;
  expect({ param: input.name, parameterFitsColumn: wider }).toEqual({
    param: input.name,
    parameterFitsColumn: true,
  });
}

test.each([
  {
    what: 'a team',
    statement: SQL.insertTeam,
    call: (store: SqlStore, id: string, name: string) => store.createTeam({ id, name }),
  },
  {
    what: 'a rename',
    statement: SQL.renameTeam,
    call: (store: SqlStore, id: string, name: string) => store.renameTeam(id, name),
  },
])(
  '$what with any accepted id and name is bound within its parameters and columns',
  async ({ statement, call }) => {
    await fc.assert(
      fc.asyncProperty(acceptedId, acceptedName, async (id, name) => {
        const { db, queries } = capturingConnection();
        await call(new SqlStore(db, log), id, name);
        expect(queries[0]!.text).toBe(statement);
        const inputs = queries[0]!.inputs;
        expectBindingFits(
          inputs.find((i) => i.name === 'id')!,
          column('teams', 'id'),
        );
        expectBindingFits(
          inputs.find((i) => i.name === 'name')!,
          column('teams', 'name'),
        );
      }),
      { examples: [['team-1', EMOJI_100]], endOnFailure: true },
    );
  },
);

test('a rename answers the row SQL Server returns, and undefined for no row', async () => {
  const row = { id: 't', name: 'New', created_at: new Date('2026-01-02T03:04:05.678Z') };
  const found = capturingConnection(() => ({ recordset: [row], rowsAffected: [1] }));
  expect(await new SqlStore(found.db, log).renameTeam('t', 'New')).toEqual({
    id: 't',
    name: 'New',
    createdAt: '2026-01-02T03:04:05.678Z',
  });
  const missing = capturingConnection();
  expect(await new SqlStore(missing.db, log).renameTeam('t', 'New')).toBeUndefined();
});

/** insertMessages' parameter prefixes and the columns they fill. */
const ARCHIVE_COLUMNS: Record<string, string> = {
  id: 'id',
  team: 'team_id',
  epoch: 'epoch',
  seq: 'seq',
  sid: 'sender_id',
  sname: 'sender_name',
  rid: 'recipient_id',
  data: 'data',
  ts: 'ts',
};

test('an archived message with any accepted ids and name is bound within its parameters and columns', async () => {
  await fc.assert(
    fc.asyncProperty(
      acceptedId,
      acceptedId,
      acceptedName,
      fc.option(acceptedId, { nil: undefined }),
      async (teamId, senderId, senderName, to) => {
        const { db, queries } = capturingConnection();
        const message: ArchivedMessage = {
          id: '6f1c1f57-6a0c-4a43-9a53-7d3f0c1d2e3f',
          seq: 1,
          teamId,
          from: { id: senderId, name: senderName },
          ...(to === undefined ? {} : { to }),
          data: { text: senderName },
          ts: 1_700_000_000_000,
          epoch: 'a1b2c3d4',
        };
        await new SqlArchive(db).write([message]);
        for (const input of queries[0]!.inputs) {
          const prefix = input.name.replace(/\d+$/, '');
          expectBindingFits(input, column('messages', ARCHIVE_COLUMNS[prefix]!));
        }
      },
    ),
    { examples: [['team-1', 'user-1', EMOJI_100, 'user-2']], endOnFailure: true },
  );
});

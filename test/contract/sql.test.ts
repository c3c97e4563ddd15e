import { randomUUID } from 'node:crypto';
import sql from 'mssql';
import pino from 'pino';
import type { ArchivedMessage } from '../../services/archive';
import { ArchivedHistory } from '../../services/archived-history';
import { REPLAY_PAGE_SIZE } from '../../services/history';
import { MemoryHistory } from '../../services/memory-history';
import { SqlArchive } from '../../services/sql-archive';
import { migrate, parseSqlUrl, SqlConnection } from '../../services/sql-connection';
import { SqlStore } from '../../services/sql-store';
import { replayAll } from '../helpers/replay-all';
import { storeContract } from './store-contract';

/**
 * The store contract and the archive against a real SQL Server. There is none on
 * the development machines: set MSSQL_URL to run it (the GitHub Actions workflow does).
 */
const url = process.env['MSSQL_URL'];
const log = pino({ level: 'silent' });

if (url === undefined || url === '') {
  process.stderr.write(
    'SKIPPED SQL Server suite: MSSQL_URL is not set (see README, "Running the SQL suite")\n',
  );
  test.skip('SQL Server suite (needs MSSQL_URL)', () => undefined);
} else {
  const options = { url, poolMax: 5 };
  const connections: SqlConnection[] = [];
  async function connected(): Promise<SqlConnection> {
    const db = new SqlConnection(parseSqlUrl(options), log);
    connections.push(db);
    await db.start();
    await db.whenConnected();
    return db;
  }

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
  });

  storeContract('mssql', async () => new SqlStore(await connected(), log));

  describe('sql schema', () => {
    test('migrating again changes nothing', async () => {
      const pool = new sql.ConnectionPool(parseSqlUrl(options));
      await pool.connect();
      await migrate(pool, log);
      await migrate(pool, log);
      const version = await pool
        .request()
        .query<{ version: number }>('SELECT MAX(version) AS version FROM dbo.switchboard_schema');
      expect(version.recordset[0]!.version).toBeGreaterThanOrEqual(1);
      await pool.close();
    });
  });

  describe('sql archive', () => {
    const team = () => `t-${randomUUID().slice(0, 12)}`;
    const message = (
      teamId: string,
      seq: number,
      extra: Partial<ArchivedMessage> = {},
    ): ArchivedMessage => ({
      id: randomUUID(),
      seq,
      teamId,
      from: { id: 'u1', name: '张三' },
      data: { text: `消息 ${seq}`, n: seq, nested: [1, { a: null }] },
      ts: 1_700_000_000_000 + seq,
      epoch: 'e1',
      ...extra,
    });

    test('a batch written twice is stored once, and reads back exactly', async () => {
      const archive = new SqlArchive(await connected());
      const teamId = team();
      const batch = [1, 2, 3].map((seq) => message(teamId, seq));
      await archive.write(batch);
      await archive.write(batch);
      const rows = await archive.between(teamId, 'e1', 0, 100, 100);
      expect(rows).toEqual(batch.map(({ epoch: _e, ...m }) => m));
    });

    test('keyset pages by seq within one epoch; direct recipients survive', async () => {
      const archive = new SqlArchive(await connected());
      const teamId = team();
      await archive.write([
        ...Array.from({ length: 250 }, (_, i) => message(teamId, i + 1)),
        message(teamId, 251, { to: 'u2' }),
        message(teamId, 1, { epoch: 'e2' }),
      ]);
      const newest = await archive.before(teamId, 'e1', 1000, 3);
      expect(newest.map((m) => m.seq)).toEqual([251, 250, 249]);
      expect(newest[0]!.to).toBe('u2');
      expect((await archive.before(teamId, 'e1', 3, 10)).map((m) => m.seq)).toEqual([2, 1]);
      expect((await archive.between(teamId, 'e2', 0, 10, 10)).map((m) => m.seq)).toEqual([1]);
    });

    test('between reads at most limit rows, oldest first, so a replay pages through the archive', async () => {
      const archive = new SqlArchive(await connected());
      const teamId = team();
      await archive.write(Array.from({ length: 450 }, (_, i) => message(teamId, i + 1)));
      const first = await archive.between(teamId, 'e1', 0, 1000, 200);
      expect(first.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const second = await archive.between(teamId, 'e1', 200, 1000, 200);
      expect(second.map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 201));
      const last = await archive.between(teamId, 'e1', 400, 1000, 200);
      expect(last.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 401));
      // The upper bound is exclusive and still applies with room left in the page.
      const bounded = await archive.between(teamId, 'e1', 10, 14, 200);
      expect(bounded.map((m) => m.seq)).toEqual([11, 12, 13]);
    });

    test('a resume reaching into the archive reads it a page at a time and misses nothing', async () => {
      const archive = new SqlArchive(await connected());
      const inner = new MemoryHistory({ retain: 3 });
      const teamId = team();
      const stored: ArchivedMessage[] = [];
      for (let i = 1; i <= 450; i++) {
        const m = inner.append({ teamId, from: { id: 'u1', name: '张三' }, data: { n: i } });
        stored.push({ ...m, epoch: inner.epoch });
      }
      await archive.write(stored);
      const history = new ArchivedHistory(inner, archive, log);
      const replay = await replayAll(history, teamId, { since: 0, epoch: inner.epoch });
      expect(replay.complete).toBe(true);
      expect(replay.messages.map((m) => m.seq)).toEqual(stored.map((m) => m.seq));
      expect(replay.pages.length).toBeGreaterThan(2);
      for (const page of replay.pages) expect(page.read).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
    });
  });
}

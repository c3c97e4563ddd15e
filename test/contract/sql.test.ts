import { randomUUID } from 'node:crypto';
import sql from 'mssql';
import pino from 'pino';
import type { ArchivedMessage } from '../../services/archive';
import { SqlArchive } from '../../services/sql-archive';
import { migrate, parseSqlUrl, SqlConnection } from '../../services/sql-connection';
import { SqlStore } from '../../services/sql-store';
import { RedisBacklog } from '../../services/redis-backlog';
import { RedisBus } from '../../services/redis-bus';
import { createRedisClient, waitReady } from '../../services/redis-connection';
import { RedisHistory } from '../../services/redis-history';
import { RedisKeys } from '../../services/redis-keys';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';
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
      const rows = await archive.between(teamId, 'e1', 0, 100);
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
      expect((await archive.between(teamId, 'e2', 0, 10)).map((m) => m.seq)).toEqual([1]);
    });
  });

  describeWithRedis('sql archive fed by the Redis engine', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await RedisServer.start();
    });
    afterAll(async () => {
      await redis.stop();
    });

    test('a team whose Redis counter was lost restarts in a new epoch: no archived row collides', async () => {
      const cmd = createRedisClient(redis.url, 'command', log);
      const sub = createRedisClient(redis.url, 'subscriber', log, { enableOfflineQueue: true });
      const blocking = createRedisClient(redis.url, 'archive', log);
      await Promise.all([cmd, sub, blocking].map((c) => waitReady(c, 5000)));
      const keys = new RedisKeys(`s${randomUUID().slice(0, 6)}:`);
      const bus = new RedisBus(cmd, sub, keys, {
        nodeId: 'n',
        retain: 100,
        ttlSeconds: 60,
        idempotencyTtlSeconds: 60,
        archive: true,
        archiveBacklogMax: 100,
        log,
      });
      const history = new RedisHistory(cmd, keys, { ttlSeconds: 60 });
      const backlog = new RedisBacklog(cmd, blocking, keys, 'n');
      const archive = new SqlArchive(await connected());
      const teamId = `t-${randomUUID().slice(0, 12)}`;
      const from = { id: 'u1', name: 'U' };
      try {
        await backlog.start();
        await bus.publish({ teamId, from, data: 1 });
        await bus.publish({ teamId, from, data: 2 });
        const first = await history.head(teamId);
        // As an eviction would: the counter and the history go, the epoch key stays.
        await cmd.del(keys.seq(teamId), keys.log(teamId));
        expect((await bus.publish({ teamId, from, data: 3 })).seq).toBe(1);
        const second = await history.head(teamId);
        expect(second.epoch).not.toBe(first.epoch);

        const batch = await backlog.take(10, 100);
        expect(batch.messages).toHaveLength(3);
        await archive.write(batch.messages);
        await backlog.ack(batch);
        const data = async (epoch: string) =>
          (await archive.between(teamId, epoch, 0, 10)).map((m) => m.data);
        expect(await data(first.epoch)).toEqual([1, 2]);
        expect(await data(second.epoch)).toEqual([3]);
      } finally {
        await bus.close();
        for (const c of [cmd, sub, blocking]) c.disconnect();
      }
    });
  });
}

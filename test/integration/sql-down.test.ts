import { randomUUID } from 'node:crypto';
import { describeWithRedis, freePort, useRedisServer } from '../helpers/redis-server';
import { api } from '../helpers/server';
import { serverPerTest, type ServerPerTest } from '../helpers/server-per-test';

/**
 * SQL Server configured but unreachable (a closed port): the node starts, serves
 * live traffic, says `db: down`, and keeps every accepted message in the backlog.
 */
async function sqlUrl(): Promise<string> {
  return `Server=127.0.0.1,${await freePort()};Database=switchboard;User Id=sa;Password=not-used;Encrypt=false`;
}

function backlogMetric(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('switchboard_archive_backlog '));
  return Number(line?.split(' ')[1]);
}

async function liveTrafficWithoutSql(servers: ServerPerTest): Promise<void> {
  const server = servers.server;
  const ready = await api(server, 'GET', '/api/ready', { token: null });
  expect(ready.status).toBe(503);
  expect(ready.body).toMatchObject({ status: 'unavailable', checks: { db: 'down' } });

  const a = await servers.open('u1');
  const b = await servers.open('u2');
  for (let i = 1; i <= 3; i++) a.send({ type: 'team', data: i, ref: `r${i}` });
  for (let i = 1; i <= 3; i++) expect((await a.next('ack'))['seq']).toBe(i);
  for (let i = 1; i <= 3; i++) expect((await b.next('message'))['data']).toBe(i);
  b.send({ type: 'history' });
  expect((await b.next('history'))['messages']).toHaveLength(3);

  // Every accepted message waits in the backlog for SQL Server.
  const metrics = await api<string>(server, 'GET', '/metrics');
  expect(backlogMetric(metrics.body)).toBe(3);

  // Team records need the database: refused with 503, never a silent success.
  const created = await api(server, 'POST', '/api/teams', {
    body: { id: 'new-team', name: 'New' },
  });
  expect(created.status).toBe(503);
  expect(created.body).toMatchObject({ error: { code: 'unavailable' } });
}

describe('SQL Server unreachable, embedded engine', () => {
  const servers = serverPerTest();

  test('start survives, ready says db down, live traffic flows, the backlog is kept', async () => {
    await servers.start({ MSSQL_URL: await sqlUrl() });
    await liveTrafficWithoutSql(servers);
  });

  test('a full backlog refuses sends with unavailable instead of dropping them', async () => {
    await servers.start({ MSSQL_URL: await sqlUrl(), ARCHIVE_BACKLOG_MAX: '2' });
    const a = await servers.open('u1');
    a.send('one');
    a.send('two');
    await a.next('ack');
    await a.next('ack');
    a.send({ type: 'team', data: 'three', ref: 'r3' });
    expect(await a.next('error')).toMatchObject({ code: 'unavailable', ref: 'r3' });
  });
});

describeWithRedis('SQL Server unreachable, Redis engine', () => {
  const redis = useRedisServer();
  const servers = serverPerTest();

  test('the backlog lives in Redis, so it outlives the node', async () => {
    const prefix = `t${randomUUID().slice(0, 6)}:`;
    await servers.start({
      MSSQL_URL: await sqlUrl(),
      REDIS_URL: redis.server.url,
      REDIS_KEY_PREFIX: prefix,
    });
    await liveTrafficWithoutSql(servers);
    await servers.close();

    const cmd = await redis.client('command');
    expect(await cmd.xlen(`${prefix}archive`)).toBe(3);
  });
});

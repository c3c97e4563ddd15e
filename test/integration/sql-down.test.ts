import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createRedisClient, waitReady } from '../../services/redis/connection';
import { RedisBacklog } from '../../services/redis/backlog';
import { RedisBus } from '../../services/redis/bus';
import { RedisKeys } from '../../services/redis/keys';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { describeWithRedis, freePort, RedisServer } from '../helpers/redis-server';
import { api, startTestServer, type TestServer } from '../helpers/server';

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

async function liveTrafficWithoutSql(server: TestServer, clients: TestClient[]): Promise<void> {
  const ready = await api(server, 'GET', '/api/ready', { token: null });
  expect(ready.status).toBe(503);
  expect(ready.body).toMatchObject({ status: 'unavailable', checks: { db: 'down' } });

  const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
  const b = await connect(server.socketUrl, { id: 'u2', teamId: 'A' });
  clients.push(a, b);
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
  let server: TestServer;
  const clients: TestClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  test('start survives, ready says db down, live traffic flows, the backlog is kept', async () => {
    server = await startTestServer({ MSSQL_URL: await sqlUrl() });
    await liveTrafficWithoutSql(server, clients);
  });

  test('a full backlog refuses sends with unavailable instead of dropping them', async () => {
    server = await startTestServer({ MSSQL_URL: await sqlUrl(), ARCHIVE_BACKLOG_MAX: '2' });
    const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
    clients.push(a);
    a.send('one');
    a.send('two');
    await a.next('ack');
    await a.next('ack');
    a.send({ type: 'team', data: 'three', ref: 'r3' });
    expect(await a.next('error')).toMatchObject({ code: 'unavailable', ref: 'r3' });
  });
});

describeWithRedis('SQL Server unreachable, Redis engine', () => {
  let redis: RedisServer;
  let server: TestServer;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  test('the backlog lives in Redis, so it outlives the node', async () => {
    const prefix = `t${randomUUID().slice(0, 6)}:`;
    server = await startTestServer({
      MSSQL_URL: await sqlUrl(),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
    });
    await liveTrafficWithoutSql(server, clients);
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();

    const log = pino({ level: 'silent' });
    const cmd = createRedisClient(redis.url, 'command', log);
    await waitReady(cmd, 5000);
    expect(await cmd.xlen(`${prefix}archive`)).toBe(3);
    cmd.disconnect();
  });
});

describeWithRedis('Redis archive backlog', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  test('entries a dead node had taken are claimed by another node; acked ones leave the stream', async () => {
    const log = pino({ level: 'silent' });
    const cmd = createRedisClient(redis.url, 'command', log);
    const sub = createRedisClient(redis.url, 'subscriber', log, { enableOfflineQueue: true });
    const blockA = createRedisClient(redis.url, 'archive', log);
    const blockB = createRedisClient(redis.url, 'archive', log);
    await Promise.all([cmd, sub, blockA, blockB].map((c) => waitReady(c, 5000)));
    const keys = new RedisKeys(`b${randomUUID().slice(0, 6)}:`);
    const bus = new RedisBus(cmd, sub, keys, {
      nodeId: 'n',
      retain: 100,
      ttlSeconds: 60,
      idempotencyTtlSeconds: 60,
      archive: true,
      log,
    });
    const a = new RedisBacklog(cmd, blockA, keys, 'node-a', 50);
    const b = new RedisBacklog(cmd, blockB, keys, 'node-b', 50);
    await a.start();
    for (let i = 1; i <= 4; i++)
      await bus.publish({ teamId: 'T', from: { id: 'u', name: 'U' }, data: i });

    // Node A takes the batch and dies before writing it.
    const taken = await a.take(10, 100);
    expect(taken.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(taken.messages[0]!.epoch).toEqual(expect.any(String));

    // Node B gets it once it has been idle past the claim time.
    const claimed = await eventually(async () => {
      const batch = await b.take(10, 50);
      return batch.messages.length > 0 ? batch : false;
    });
    expect(claimed.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    await b.ack(claimed);
    expect(await b.length()).toBe(0);

    await bus.close();
    for (const c of [cmd, sub, blockA, blockB]) c.disconnect();
  });
});

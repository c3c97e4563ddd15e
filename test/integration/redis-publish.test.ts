import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { createRedisClient, waitReady } from '../../services/redis/connection';
import { sendKnowingOutcome } from '../../services/redis/send';
import { connect, type TestClient } from '../helpers/client';
import { describeWithRedis, freePort, RedisServer, useRedisServer } from '../helpers/redis-server';
import { startTestServer, type TestServer } from '../helpers/server';
import { eventually } from '../helpers/eventually';

/** SQL Server configured on a closed port: archiving is on and nothing drains the backlog. */
async function unreachableSql(): Promise<string> {
  return `Server=127.0.0.1,${await freePort()};Database=switchboard;User Id=sa;Password=not-used;Encrypt=false`;
}

/** What the Redis publish path answers when something goes wrong, seen from a socket. */
describeWithRedis('Redis publish path under faults', () => {
  const redis = useRedisServer();
  let admin: Redis;
  let server: TestServer | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    admin = await redis.client('admin');
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
  });

  test('a full archive backlog refuses with unavailable, costs no seq, and accepts again once drained', async () => {
    const prefix = `p${randomUUID().slice(0, 6)}:`;
    server = await startTestServer({
      REDIS_URL: redis.server.url,
      REDIS_KEY_PREFIX: prefix,
      MSSQL_URL: await unreachableSql(),
      ARCHIVE_BACKLOG_MAX: '3',
    });
    const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
    clients.push(a);
    for (let i = 1; i <= 3; i++) a.send({ type: 'team', data: i, ref: `r${i}` });
    for (let i = 1; i <= 3; i++) expect(await a.next('ack')).toMatchObject({ seq: i });
    a.send({ type: 'team', data: 4, ref: 'r4' });
    expect(await a.next('error')).toMatchObject({
      code: 'unavailable',
      ref: 'r4',
      message: 'archive backlog full while the database is down; retry',
    });
    expect(await admin.xlen(`${prefix}archive`)).toBe(3);
    expect(await admin.get(`${prefix}{A}:seq`)).toBe('3');

    // As if the archiver had written the backlog to SQL Server.
    await admin.xtrim(`${prefix}archive`, 'MAXLEN', 0);
    a.send({ type: 'team', data: 4, ref: 'r4' });
    expect(await a.next('ack')).toMatchObject({ ref: 'r4', seq: 4 });
  });

  describe('the eviction policy check at start', () => {
    const warned = (logs: string[]) =>
      logs.filter((l) => l.includes('maxmemory-policy is not noeviction'));

    test('an evicting policy is warned about once, with its name', async () => {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        server = await startTestServer({ REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: 'ev1:' });
      } finally {
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
      }
      const lines = warned(server.logs).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 40, policy: 'allkeys-lru' });
    });

    test('noeviction is not warned about', async () => {
      server = await startTestServer({ REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: 'ev2:' });
      expect(warned(server.logs)).toEqual([]);
    });

    test('a Redis that refuses CONFIG is noted at debug and the node serves', async () => {
      const user = `limited${randomUUID().slice(0, 6)}`;
      await admin.acl('SETUSER', user, 'on', '>limited-pass', '~*', '&*', '+@all', '-config');
      const url = new URL(redis.server.url);
      url.username = user;
      url.password = 'limited-pass';
      server = await startTestServer({
        REDIS_URL: url.toString(),
        REDIS_KEY_PREFIX: 'ev3:',
        LOG_LEVEL: 'debug',
      });
      expect(server.logs.some((l) => l.includes('eviction check skipped'))).toBe(true);
      expect(warned(server.logs)).toEqual([]);
      const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
      clients.push(a);
      a.send({ type: 'team', data: 1, ref: 'r1' });
      expect(await a.next('ack')).toMatchObject({ seq: 1 });
    });
  });

  describe('a publish Redis did not answer', () => {
    let own: RedisServer;
    beforeEach(async () => {
      own = await RedisServer.start();
    });
    afterEach(async () => {
      own.resume();
      await own.stop();
    });

    test('gets indeterminate, and the same ref again learns it was stored, once', async () => {
      server = await startTestServer({ REDIS_URL: own.url, REDIS_COMMAND_TIMEOUT_MS: '300' });
      const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
      clients.push(a);
      own.pause();
      a.send({ type: 'team', data: 'once', ref: 'r1' });
      expect(await a.next('error', 10_000)).toMatchObject({ code: 'indeterminate', ref: 'r1' });
      own.resume();
      // Redis ran the script when it woke up; the retry finds the ref and publishes nothing.
      a.send({ type: 'team', data: 'once', ref: 'r1' });
      const ack = await a.next('ack');
      expect(ack).toMatchObject({ ref: 'r1', seq: 1 });
      a.send({ type: 'history' });
      const history = await a.next('history');
      expect(history['messages']).toEqual([expect.objectContaining({ data: 'once', seq: 1 })]);
      expect((history['messages'] as { id: string }[])[0]!.id).toBe(ack['id']);
    });

    test('a message refused while Redis is down, never sent, still answers unavailable', async () => {
      server = await startTestServer({ REDIS_URL: own.url, REDIS_COMMAND_TIMEOUT_MS: '300' });
      const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
      clients.push(a);
      await own.kill();
      const logs = server.logs;
      // Logged once the command connection has seen the outage: from then on nothing is written.
      await eventually(() =>
        logs.some(
          (l) =>
            l.includes('"role":"command"') &&
            (l.includes('redis unavailable') || l.includes('redis connection lost')),
        ),
      );
      a.send({ type: 'team', data: 'lost', ref: 'r2' });
      expect(await a.next('error')).toMatchObject({ code: 'unavailable', ref: 'r2' });
    });
  });

  describe('sendKnowingOutcome', () => {
    const silent = pino({ level: 'silent' });
    let own: RedisServer;
    let c: Redis;
    beforeEach(async () => {
      own = await RedisServer.start();
    });
    afterEach(async () => {
      c.disconnect();
      own.resume();
      await own.stop();
    });

    async function clientOf(commandTimeout: number): Promise<Redis> {
      c = createRedisClient({ kind: 'single', url: own.url }, 'command', silent, {
        commandTimeout,
      });
      await waitReady(c, 5000);
      return c;
    }

    test('an answer comes back as it is', async () => {
      await clientOf(5000);
      expect(await sendKnowingOutcome(c, 'eval', ['return ARGV[1]', 0, 'hi'])).toBe('hi');
    });

    test('an error reply is unavailable: Redis answered, the script did not run', async () => {
      await clientOf(5000);
      await c.set('not-a-counter', 'x');
      await expect(
        sendKnowingOutcome(c, 'eval', ["return redis.call('INCR', KEYS[1])", 1, 'not-a-counter']),
      ).rejects.toMatchObject({ code: 'unavailable' });
    });

    test('a command sent while the connection is down is unavailable: it was never written', async () => {
      await clientOf(5000);
      await own.kill();
      await eventually(() => c.status !== 'ready');
      await expect(sendKnowingOutcome(c, 'ping', [])).rejects.toMatchObject({
        code: 'unavailable',
      });
    });

    test('no answer before the command timeout is indeterminate', async () => {
      await clientOf(200);
      own.pause();
      await expect(sendKnowingOutcome(c, 'ping', [])).rejects.toMatchObject({
        code: 'indeterminate',
      });
    });

    test('the connection closing with the command in flight is indeterminate', async () => {
      await clientOf(60_000);
      own.pause();
      // Written to the socket by the time the call returns; Redis never answers it.
      const sent = sendKnowingOutcome(c, 'ping', []);
      const outcome = expect(sent).rejects.toMatchObject({ code: 'indeterminate' });
      await own.kill();
      await outcome;
    });
  });
});

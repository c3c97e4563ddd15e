import { randomUUID } from 'node:crypto';
import { connect, type TestClient } from '../helpers/client';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';
import { api, startTestServer, type TestServer } from '../helpers/server';
import { eventually } from '../helpers/eventually';
import { untilAcked } from '../helpers/until-acked';

/** REDIS_ACK_REPLICAS: an ack only once the message reached that many replicas. */
describeWithRedis('replicated acks (REDIS_ACK_REPLICAS)', () => {
  let master: RedisServer;
  let replica: RedisServer | undefined;
  let server: TestServer | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    // A replica's sync starts at once, not after the default 5 s.
    master = await RedisServer.start({ args: ['--repl-diskless-sync-delay', '0'] });
  });
  afterAll(async () => {
    await master.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
    await replica?.stop();
    replica = undefined;
  });

  /**
   * `ackTimeoutMs` short where a send is meant to end indeterminate (no wait for
   * nothing), long where it is meant to be acked: a loaded replica can take longer
   * than 200 ms to confirm, and that send was then indeterminate, not acked.
   */
  const start = async (
    replicas: string,
    prefix = `r${randomUUID().slice(0, 6)}:`,
    ackTimeoutMs = '200',
    commandTimeoutMs = '5000',
  ) => {
    server = await startTestServer({
      REDIS_URL: master.url,
      REDIS_KEY_PREFIX: prefix,
      REDIS_ACK_REPLICAS: replicas,
      REDIS_ACK_TIMEOUT_MS: ackTimeoutMs,
      REDIS_COMMAND_TIMEOUT_MS: commandTimeoutMs,
      // No lease renewal (a write) during the test: see the ref test below.
      PRESENCE_LEASE_MS: '60000',
    });
    const client = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
    clients.push(client);
    return { server, client };
  };

  test('without the replica, a send is answered indeterminate, never acked', async () => {
    const { server, client } = await start('1');
    client.send({ type: 'team', data: 'one', ref: 'r1' });
    expect(await client.next('error')).toMatchObject({ code: 'indeterminate', ref: 'r1' });
    expect(client.take('ack')).toEqual([]);
    const res = await api(server, 'POST', '/api/teams/A/messages', { body: { data: 'two' } });
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: { code: 'indeterminate' } });
    // The master did store it: a resend with the same ref is not a second message.
    expect((await api(server, 'GET', '/api/teams/A/messages')).body).toMatchObject({
      messages: [{ data: 'one' }, { data: 'two' }],
    });
  });

  test('a resent ref is acked only once its first publish is on the replicas', async () => {
    replica = await RedisServer.start({
      args: ['--repl-diskless-load', 'swapdb', '--replicaof', '127.0.0.1', String(master.port)],
    });
    const prefix = `r${randomUUID().slice(0, 6)}:`;
    const { client: a } = await start('1', prefix);
    const first = server;
    server = undefined;
    const { server: other, client: b } = await start('1', prefix);
    try {
      for (const c of [a, b]) await untilAcked(c);
      // The replica stops reading: node A's publish reaches the master only.
      replica.pause();
      a.send({ type: 'team', data: 'once', ref: 'r1' });
      expect(await a.next('error')).toMatchObject({ code: 'indeterminate', ref: 'r1' });
      // Node B's connection wrote nothing since. WAIT promises only this connection's own
      // writes; Redis 7 counts from the offset of its last command, whatever it was.
      b.send({ type: 'team', data: 'once', ref: 'r1' });
      const answer = await b.next('error');
      expect(answer).toMatchObject({ code: 'indeterminate', ref: 'r1' });
      replica.resume();
      // Resent until acked: the replica catching up may outlast one 200 ms WAIT.
      const acked = await eventually(async () => {
        b.send({ type: 'team', data: 'once', ref: 'r1' });
        let reply = await b.next();
        while (reply.type !== 'ack' && reply.type !== 'error') reply = await b.next();
        return reply.type === 'ack' ? reply : false;
      }, 15_000);
      expect(acked).toMatchObject({ ref: 'r1' });
    } finally {
      replica.resume();
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await other.close();
      await first?.close();
    }
  }, 40_000);

  test('a publish waiting on a frozen replica holds up no other command', async () => {
    replica = await RedisServer.start({
      args: ['--repl-diskless-load', 'swapdb', '--replicaof', '127.0.0.1', String(master.port)],
    });
    // WAIT may block for 20 s: long enough that only the replica's return can end it here.
    const { server, client } = await start('1', undefined, '20000', '30000');
    await untilAcked(client);
    const { Redis } = await import('ioredis');
    const admin = new Redis(master.port, '127.0.0.1');
    try {
      replica.pause();
      client.send({ type: 'team', data: 'held', ref: 'h1' });
      // The publish's WAIT is blocked on the master.
      await eventually(async () => String(await admin.client('LIST')).includes('cmd=wait'), 10_000);
      // A history read (the command connection) is answered meanwhile, and it holds the
      // message: the master ran the script, only the replica's word is missing.
      const res = await api(server, 'GET', '/api/teams/A/messages');
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).toContain('"held"');
      expect(client.take('ack')).toEqual([]);
      expect(client.take('error')).toEqual([]);
      replica.resume();
      expect(await client.next('ack')).toMatchObject({ ref: 'h1' });
    } finally {
      replica.resume();
      admin.disconnect();
    }
  }, 60_000);

  test('with the replica in sync, sends are acked and the replica holds them', async () => {
    replica = await RedisServer.start({
      // Loaded in memory: no dump.rdb left in the working directory.
      args: ['--repl-diskless-load', 'swapdb', '--replicaof', '127.0.0.1', String(master.port)],
    });
    const { server, client } = await start('1', undefined, '3000');
    // The replica's first sync takes a moment; until then sends are not acked.
    await untilAcked(client);
    const batch = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const data of batch) client.send({ type: 'team', data, ref: data });
    const acks = [];
    for (let i = 0; i < batch.length; i++) acks.push(await client.next('ack'));
    expect(acks.map((a) => a['ref'])).toEqual(batch);
    const res = await api(server, 'POST', '/api/teams/A/messages', { body: { data: 'admin' } });
    expect(res.status).toBe(201);
    const prefix = server.config.redis?.keyPrefix ?? '';
    const { Redis } = await import('ioredis');
    const reader = new Redis(replica.port, '127.0.0.1');
    try {
      // Acked means on the replica already: read it there, no waiting.
      const entries = await reader.xrange(`${prefix}{A}:log`, '-', '+');
      const stored = entries.map(([, fields]) => fields.join(' '));
      for (const data of [...batch, 'admin'])
        expect(stored.some((s) => s.includes(`"${data}"`))).toBe(true);
    } finally {
      reader.disconnect();
    }
    // A probe sent before the replica's first sync waits out the whole ack timeout.
  }, 40_000);
});

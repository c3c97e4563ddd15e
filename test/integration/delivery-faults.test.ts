import pino from 'pino';
import { connect, type Frame, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { RedisClients } from '../helpers/redis-clients';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';
import { api, startTestServer, type TestServer } from '../helpers/server';

/**
 * Faults that used to cost idle clients messages without a word: a Redis restart
 * or expired keys (a new epoch: the hub's duplicate filter compared seqs only),
 * and a dropped subscriber connection in a team that had had no message on the
 * node yet (nothing to fill the gap from). Two in-process nodes on a real Redis.
 */
describeWithRedis('delivery across faults (Redis engine, two nodes)', () => {
  let redis: RedisServer;
  // For the test's own reads and writes behind the nodes' backs.
  const redisClients = new RedisClients(() => redis.url, pino({ level: 'silent' }));
  let n1: TestServer;
  let n2: TestServer;
  const clients: TestClient[] = [];

  async function nodes(extra: Record<string, string> = {}): Promise<void> {
    const env = (node: string) => ({
      REDIS_URL: redis.url,
      NODE_ID: node,
      PRESENCE_LEASE_MS: '1000',
      RATE_LIMIT_PER_S: '0',
      ...extra,
    });
    n1 = await startTestServer(env('n1'));
    n2 = await startTestServer(env('n2'));
  }

  async function open(node: TestServer, id: string, teamId: string): Promise<TestClient> {
    const client = await connect(node.socketUrl, { id, teamId });
    clients.push(client);
    return client;
  }

  async function publish(teamId: string, count: number, from = 0): Promise<number[]> {
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) {
      const res = await api<{ seq: number }>(n1, 'POST', `/api/teams/${teamId}/messages`, {
        body: { data: `m${from + i}` },
      });
      expect(res.status).toBe(201);
      seqs.push(res.body.seq);
    }
    return seqs;
  }

  /** The next `count` frames that are messages or epoch notices, in order. */
  async function frames(client: TestClient, count: number): Promise<Frame[]> {
    const out: Frame[] = [];
    while (out.length < count) {
      const frame = await client.next(undefined, 10_000);
      if (frame.type === 'message' || frame.type === 'epoch') out.push(frame);
    }
    return out;
  }

  /** Two idle members of `team`, one per node, that have seen its first `count` messages. */
  async function idleMembers(team: string, count: number): Promise<[TestClient, TestClient]> {
    const idle1 = await open(n1, 'idle1', team);
    const idle2 = await open(n2, 'idle2', team);
    await publish(team, count);
    for (const idle of [idle1, idle2]) await frames(idle, count);
    return [idle1, idle2];
  }

  /** An `epoch` frame at 0, then `count` messages from seq 1 carrying m<from>, m<from+1>, … */
  async function expectNewEpoch(idle: TestClient, from: number, count: number): Promise<void> {
    const got = await frames(idle, count + 1);
    expect(got.map((f) => [f['type'], f['seq'], f['data'] ?? null])).toEqual([
      ['epoch', 0, null],
      ...Array.from({ length: count }, (_, i) => ['message', i + 1, `m${from + i}`]),
    ]);
  }

  async function ready(node: TestServer): Promise<void> {
    await eventually(async () => (await api(node, 'GET', '/api/ready')).status === 200, 20_000);
  }

  beforeEach(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await n1?.close();
    await n2?.close();
    await redisClients.closeAll();
    await redis.stop();
  });

  test('idle members get an epoch frame and every message after Redis restarts empty', async () => {
    await nodes();
    const team = 'reset';
    const idle1 = await open(n1, 'idle1', team);
    const idle2 = await open(n2, 'idle2', team);
    await publish(team, 20);
    for (const idle of [idle1, idle2]) {
      const seen = await frames(idle, 20);
      expect(seen.map((f) => f['seq'])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
    const before = idle1.welcome['epoch'] as string;

    await redis.kill();
    await redis.restart();
    await ready(n1);
    await ready(n2);
    expect(await publish(team, 25, 20)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));

    for (const idle of [idle1, idle2]) {
      const [notice, ...messages] = await frames(idle, 26);
      expect(notice).toMatchObject({ type: 'epoch', teamId: team, seq: 0 });
      expect(notice!['epoch']).not.toBe(before);
      expect(messages.map((f) => [f['type'], f['seq'], f['data']])).toEqual(
        Array.from({ length: 25 }, (_, i) => ['message', i + 1, `m${20 + i}`]),
      );
    }
  });

  test('idle members get an epoch frame when a quiet team’s keys expire', async () => {
    await nodes({ HISTORY_TTL_S: '1' });
    const team = 'quiet';
    const idle1 = await open(n1, 'idle1', team);
    const idle2 = await open(n2, 'idle2', team);
    await publish(team, 3);
    for (const idle of [idle1, idle2]) await frames(idle, 3);
    const admin = await redisClients.open('admin');
    await eventually(async () => (await admin.keys('*{quiet}:seq')).length === 0, 10_000);
    expect(await publish(team, 2, 3)).toEqual([1, 2]);
    for (const idle of [idle1, idle2]) {
      const got = await frames(idle, 3);
      expect(got.map((f) => [f['type'], f['seq']])).toEqual([
        ['epoch', 0],
        ['message', 1],
        ['message', 2],
      ]);
    }
  });

  test('a dropped subscriber loses nothing for a team that had no message yet', async () => {
    await nodes();
    const team = 'fresh';
    const idle1 = await open(n1, 'idle1', team);
    const idle2 = await open(n2, 'idle2', team);
    const admin = await redisClients.open('admin');
    // The messages must be published while no node is subscribed, or the test proves
    // nothing; the subscribers reconnect within about 100 ms, so try a few times.
    let published = 0;
    let droppedWhileSent = false;
    for (let round = 0; round < 5 && !droppedWhileSent; round++) {
      await eventually(async () => {
        const [, subs] = (await admin.pubsub('NUMSUB', `sb:ch:team:{${team}}`)) as [string, number];
        return subs === 2;
      }, 10_000);
      await admin.client('KILL', 'TYPE', 'pubsub');
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          api(n1, 'POST', `/api/teams/${team}/messages`, { body: { data: published + i } }),
        ),
      );
      published += 10;
      const [, subs] = (await admin.pubsub('NUMSUB', `sb:ch:team:{${team}}`)) as [string, number];
      droppedWhileSent = subs === 0;
    }
    expect(droppedWhileSent).toBe(true);
    // No further message comes to reveal the gap: the refill alone must deliver them.
    for (const idle of [idle1, idle2]) {
      const got = await frames(idle, published);
      expect(got.map((f) => f['seq'])).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    }
    expect(n2.logs.join('')).toContain('subscriber reconnected');
  });

  test('a Redis that went back in time (lost acked writes) starts a new epoch, told to all', async () => {
    await nodes();
    const team = 'rewound';
    const [idle1, idle2] = await idleMembers(team, 5);
    const admin = await redisClients.open('admin');
    // What an AOF with everysec holds after a crash: the last three writes never reached it.
    await admin.set(`sb:{${team}}:seq`, '2', 'KEEPTTL');
    await admin.xdel(`sb:{${team}}:log`, '3-0', '4-0', '5-0');
    await admin.client('KILL', 'TYPE', 'pubsub');
    // Whichever node refills first starts the new epoch; the other just follows it.
    await eventually(
      () => [...n1.logs, ...n2.logs].join('').includes('Redis lost acknowledged messages'),
      10_000,
    );
    // Without the new epoch these would be seqs 3-4 again, dropped everywhere as duplicates.
    expect(await publish(team, 2, 5)).toEqual([1, 2]);
    for (const idle of [idle1, idle2]) await expectNewEpoch(idle, 5, 2);
  });

  test('a rewind is caught by the first publish from a node that saw the lost seqs', async () => {
    await nodes();
    const team = 'rewound-live';
    const [idle1, idle2] = await idleMembers(team, 5);
    const admin = await redisClients.open('admin');
    // Redis went back without a dropped subscriber to reveal it: only the publisher can tell.
    await admin.set(`sb:{${team}}:seq`, '2', 'KEEPTTL');
    await admin.xdel(`sb:{${team}}:log`, '3-0', '4-0', '5-0');
    // As many as were lost: before, they took seqs 3-5 again and every node dropped them.
    expect(await publish(team, 3, 5)).toEqual([1, 2, 3]);
    for (const idle of [idle1, idle2]) await expectNewEpoch(idle, 5, 3);
  });

  test('messages whose log was evicted while a subscriber was away are told, not waited on', async () => {
    await nodes();
    const team = 'evicted';
    const [idle1, idle2] = await idleMembers(team, 3);
    const admin = await redisClients.open('admin');
    // Three more were published while the subscribers were away, then the log was evicted.
    await admin.set(`sb:{${team}}:seq`, '6', 'KEEPTTL');
    await admin.del(`sb:{${team}}:log`);
    await admin.client('KILL', 'TYPE', 'pubsub');
    const epoch = idle1.welcome['epoch'] as string;
    // The team stays quiet: the notice must come from the refill alone.
    for (const idle of [idle1, idle2]) {
      expect(await frames(idle, 1)).toEqual([{ type: 'epoch', teamId: team, epoch, seq: 6 }]);
    }
  });
});

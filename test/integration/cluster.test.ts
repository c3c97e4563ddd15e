import { refusedHandshake, socketUrl, type Frame } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import {
  describeWithRedis,
  RedisServer,
  useRedisServer,
  type SuiteRedis,
} from '../helpers/redis-server';
import { RedisCluster } from '../../support/redis-cluster';
import type { LiveStats } from '../../services/stats-sampler';
import { api, startTestServer } from '../helpers/server';
import { useTwoNodes } from '../helpers/two-nodes';

/**
 * Two Switchboard nodes on one real Redis, in this process: for a client and an
 * admin they must behave like one node.
 */
describeWithRedis('cluster on Redis (in-process nodes)', () => {
  const redis = useRedisServer();
  twoNodes(() => ({ REDIS_URL: redis.server.url }), redis);
});

/** The same on a real 3-master Redis Cluster: sharded pub/sub, per-slot scripts. */
describeWithRedis('cluster on a Redis Cluster (in-process nodes)', () => {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  twoNodes(() => {
    if (!cluster) throw new Error('no cluster');
    return { REDIS_CLUSTER_NODES: cluster.seeds };
  });
});

/**
 * The tests of two nodes on `target`; with `single` (one redis-server of the suite's
 * own) also those that stop and start it.
 */
function twoNodes(target: () => Record<string, string>, single?: SuiteRedis): void {
  const env = (node: string) => ({
    ...target(),
    NODE_ID: node,
    PRESENCE_LEASE_MS: '1000',
    RATE_LIMIT_PER_S: '0',
  });

  const nodes = useTwoNodes(env);
  const { open } = nodes;

  test('messages cross nodes, with one cluster-wide seq in order everywhere', async () => {
    const team = 'order';
    const s1 = await open(nodes.n1, 's1', team);
    const s2 = await open(nodes.n2, 's2', team);
    const w1 = await open(nodes.n1, 'w1', team);
    const w2 = await open(nodes.n2, 'w2', team);
    for (let i = 0; i < 25; i++) {
      s1.send({ type: 'team', data: `a${i}` });
      s2.send({ type: 'team', data: `b${i}` });
    }
    const acks: number[] = [];
    for (let i = 0; i < 25; i++)
      acks.push((await s1.next('ack'))['seq'] as number, (await s2.next('ack'))['seq'] as number);
    expect([...acks].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (const w of [w1, w2]) {
      const seqs: number[] = [];
      for (let i = 0; i < 50; i++) seqs.push((await w.next('message'))['seq'] as number);
      expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    }
  });

  test('direct messages reach the recipient on the other node only', async () => {
    const team = 'direct';
    const sender = await open(nodes.n1, 'u1', team);
    const to = await open(nodes.n2, 'u2', team);
    const third = await open(nodes.n2, 'u3', team);
    sender.send({ type: 'direct', to: 'u2', data: 'psst' });
    const ack = await sender.next('ack');
    expect(await to.next('message')).toMatchObject({ id: ack['id'], to: 'u2', data: 'psst' });
    await third.sync();
    expect(third.take('message')).toEqual([]);
  });

  test('presence is user-level across nodes: one join, one leave', async () => {
    const team = 'presence';
    const watcher = await open(nodes.n1, 'w', team);
    const a1 = await open(nodes.n1, 'u1', team);
    expect(await watcher.next('presence')).toMatchObject({ event: 'join', user: { id: 'u1' } });
    const a2 = await open(nodes.n2, 'u1', team);
    a2.send({ type: 'presence' });
    const members = await a2.next('members');
    expect(members['members']).toEqual(
      expect.arrayContaining([
        { id: 'u1', name: 'u1', connections: 2 },
        { id: 'w', name: 'w', connections: 1 },
      ]),
    );
    await a1.close();
    await watcher.sync();
    expect(watcher.take('presence')).toEqual([]);
    await a2.close();
    expect(await watcher.next('presence')).toMatchObject({ event: 'leave', user: { id: 'u1' } });
  });

  test('admin listings read the whole cluster from either node', async () => {
    const team = 'listing';
    await open(nodes.n1, 'u1', team);
    await open(nodes.n2, 'u1', team);
    await open(nodes.n2, 'u2', team);
    for (const node of [nodes.n1, nodes.n2]) {
      const teams = await api<{ teams: Frame[] }>(node, 'GET', '/api/teams');
      expect(teams.body.teams.find((t) => t['id'] === team)).toMatchObject({
        online: 2,
        connections: 3,
      });
      const detail = await api(node, 'GET', `/api/teams/${team}`);
      expect(detail.body['members']).toHaveLength(2);
      const conns = await api<{ connections: Frame[] }>(
        node,
        'GET',
        `/api/connections?teamId=${team}&limit=2`,
      );
      expect(conns.body.connections).toHaveLength(2);
      const rest = await api<{ connections: Frame[]; next: string | null }>(
        node,
        'GET',
        `/api/connections?teamId=${team}&limit=2&cursor=${(conns.body as unknown as { next: string }).next}`,
      );
      expect(rest.body.connections).toHaveLength(1);
      expect(rest.body.next).toBeNull();
      const nodes = [...conns.body.connections, ...rest.body.connections]
        .map((c) => c['node'])
        .sort();
      expect(nodes).toEqual(['n1', 'n2', 'n2']);
    }
    // A team created on one node is known to the other.
    expect(
      (await api(nodes.n1, 'POST', '/api/teams', { body: { id: 'made', name: 'Made' } })).status,
    ).toBe(201);
    expect((await api(nodes.n2, 'GET', '/api/teams/made')).body).toMatchObject({ name: 'Made' });
    expect(
      (await api(nodes.n2, 'POST', '/api/teams', { body: { id: 'made', name: 'Again' } })).status,
    ).toBe(409);
  });

  test('a kick on one node closes the socket on the other with 4000', async () => {
    const victim = await open(nodes.n2, 'u1', 'kick');
    const res = await api(
      nodes.n1,
      'DELETE',
      `/api/connections/${victim.welcome['connId'] as string}`,
    );
    expect(res.status).toBe(204);
    expect((await victim.waitClose()).code).toBe(4000);
  });

  test('broadcast and admin publish reach every node', async () => {
    const a = await open(nodes.n1, 'u1', 'bA');
    const b = await open(nodes.n2, 'u2', 'bB');
    const res = await api(nodes.n1, 'POST', '/api/broadcast', { body: { data: 'hello all' } });
    expect(res.status).toBe(202);
    expect((res.body as { teams: number }).teams).toBeGreaterThanOrEqual(2);
    expect((await a.next('message'))['data']).toBe('hello all');
    expect((await b.next('message'))['data']).toBe('hello all');
    expect(
      (await api(nodes.n2, 'POST', '/api/teams/bA/messages', { body: { data: 'from n2' } })).status,
    ).toBe(201);
    expect((await a.next('message'))['data']).toBe('from n2');
  });

  test('the same ref sent through two nodes publishes once', async () => {
    const team = 'ref';
    const c1 = await open(nodes.n1, 'u1', team);
    const c2 = await open(nodes.n2, 'u1', team);
    const watcher = await open(nodes.n2, 'w', team);
    c1.send({ type: 'team', data: 'once', ref: 'same' });
    const first = await c1.next('ack');
    c2.send({ type: 'team', data: 'once', ref: 'same' });
    expect(await c2.next('ack')).toEqual(first);
    await watcher.next('message');
    await watcher.sync();
    expect(watcher.take('message')).toEqual([]);
  });

  test('a client resuming on another node gets exactly what it missed, then live', async () => {
    const team = 'resume';
    const sender = await open(nodes.n1, 's', team);
    const reader = await open(nodes.n1, 'r', team);
    sender.send('one');
    const seen = await reader.next('message');
    const epoch = reader.welcome['epoch'] as string;
    nodes.forget(reader);
    await reader.close();
    for (const text of ['two', 'three']) sender.send(text);
    await sender.next('ack');
    await sender.next('ack');
    for (let i = 0; i < 50; i++) sender.send({ type: 'team', data: i });
    const back = await open(nodes.n2, 'r', team, { since: seen['seq'] as number, epoch });
    for (let i = 0; i < 50; i++) await sender.next('ack');
    // The ack comes from nodes.n1; the delivery crosses Redis to nodes.n2 on its own schedule.
    await eventually(() => back.frames.some((f) => f.type === 'message' && f['seq'] === 53));
    await back.sync();
    const frames = back.frames.filter((f) => f.type === 'message' || f.type === 'resumed');
    const resumed = frames.find((f) => f.type === 'resumed');
    expect(resumed).toMatchObject({ since: 1, complete: true });
    expect(frames.filter((f) => f.type === 'message').map((f) => f['seq'])).toEqual(
      Array.from({ length: 52 }, (_, i) => i + 2),
    );
  });

  if (single) {
    test('a node started while Redis is down becomes ready by itself once Redis is up', async () => {
      const late = await RedisServer.reserve();
      // Together: each start waits out its engine's 5 s for a Redis that is not there.
      const [node, other] = await Promise.all([
        startTestServer({ REDIS_URL: late.url, NODE_ID: 'late', PRESENCE_LEASE_MS: '1000' }),
        startTestServer({ REDIS_URL: late.url, NODE_ID: 'late-2' }),
      ]);
      try {
        const before = await api(node, 'GET', '/api/ready', { token: null });
        expect(before.status).toBe(503);
        expect(before.body).toMatchObject({ checks: { redis: 'down' } });
        await late.restart();
        await eventually(
          async () => (await api(node, 'GET', '/api/ready', { token: null })).status === 200,
          15000,
        );
        await eventually(
          async () => (await api(other, 'GET', '/api/ready', { token: null })).status === 200,
          15000,
        );
        // Its node channel works: a kick sent through the other node reaches it.
        const victim = await open(node, 'u1', 'late-team');
        expect(
          (await api(other, 'DELETE', `/api/connections/${victim.welcome['connId'] as string}`))
            .status,
        ).toBe(204);
        expect((await victim.waitClose()).code).toBe(4000);
      } finally {
        await node.close();
        await other.close();
        await late.stop();
      }
    }, 60000);

    test('Redis down: sockets stay, sends get unavailable, ready is 503; back: it serves again by itself', async () => {
      const team = 'outage';
      const a = await open(nodes.n1, 'u1', team);
      const b = await open(nodes.n2, 'u2', team);
      a.send('before');
      await b.next('message');
      const oldEpoch = a.welcome['epoch'];

      await single.server.kill();
      const ready = await eventually(async () => {
        const r = await api(nodes.n1, 'GET', '/api/ready', { token: null });
        return r.status === 503 ? r : false;
      });
      expect(ready.body).toMatchObject({ checks: { redis: 'down', db: 'disabled' } });
      a.send({ type: 'team', data: 'during', ref: 'during-1' });
      expect(await a.next('error')).toMatchObject({ code: 'unavailable', ref: 'during-1' });
      expect(a.closed).toBeUndefined();
      expect(b.closed).toBeUndefined();

      await single.server.restart();
      await eventually(
        async () => (await api(nodes.n1, 'GET', '/api/ready', { token: null })).status === 200,
        15000,
      );
      await eventually(
        async () => (await api(nodes.n2, 'GET', '/api/ready', { token: null })).status === 200,
        15000,
      );
      a.send({ type: 'team', data: 'after', ref: 'after-1' });
      const ack = await a.next('ack');
      // Redis kept nothing: the team starts over, in a new epoch.
      expect(ack['seq']).toBe(1);
      expect(await b.next('message')).toMatchObject({ data: 'after', seq: 1 });
      const again = await open(nodes.n2, 'u3', team);
      expect(again.welcome['epoch']).not.toBe(oldEpoch);
      // Presence came back without anyone reconnecting.
      const members = await eventually(async () => {
        const r = await api<{ members: Frame[] }>(nodes.n1, 'GET', `/api/teams/${team}`);
        if (r.status !== 200 || r.body.members.length !== 3) {
          throw new Error(`members not restored yet: ${r.status} ${JSON.stringify(r.body)}`);
        }
        return r.body.members;
      }, 15000);
      expect(members.map((m) => m['id']).sort()).toEqual(['u1', 'u2', 'u3']);
    }, 60000);
  }

  test('a ban through one node closes and refuses the user on the other; a lift lets them in', async () => {
    const there = await open(nodes.n2, 'mallory', 'ban');
    const elsewhere = await open(nodes.n2, 'mallory', 'other');
    const banned = await api(nodes.n1, 'POST', '/api/bans', {
      body: { userId: 'mallory', teamId: 'ban' },
    });
    expect(banned.status).toBe(201);
    expect((await there.waitClose()).code).toBe(4003);
    const refused = await refusedHandshake(
      socketUrl(nodes.n2.socketUrl, { id: 'mallory', teamId: 'ban' }),
    );
    expect(refused.status).toBe(403);
    elsewhere.send({ type: 'ping' });
    await elsewhere.next('pong');
    expect((await api(nodes.n1, 'DELETE', '/api/bans/mallory?teamId=ban')).status).toBe(204);
    await eventually(async () => {
      await open(nodes.n2, 'mallory', 'ban');
    });
  });

  test('the live stats sum the cluster: connections and message rates of both nodes', async () => {
    await nodes.restart({ STATS_INTERVAL_MS: '100' });
    const s1 = await open(nodes.n1, 's1', 'stats');
    await open(nodes.n2, 'r2', 'stats');
    await open(nodes.n2, 'r3', 'stats-other');
    const seen = await eventually(async () => {
      s1.send({ type: 'team', data: 'tick' });
      await s1.next('ack');
      const { body } = await api<LiveStats>(nodes.n2, 'GET', '/api/stats');
      const node = body.node.samples.at(-1);
      const cluster = body.cluster.samples.at(-1);
      // nodes.n2 delivers (r2), nodes.n1 accepts: only the cluster view sees both.
      return body.cluster.nodes === 2 &&
        node?.connections === 2 &&
        node.messagesPerS === 0 &&
        node.deliveriesPerS > 0 &&
        cluster?.connections === 3 &&
        cluster.messagesPerS > 0
        ? cluster
        : false;
    }, 10_000);
    expect(seen.teams).toBeGreaterThanOrEqual(2);
  });
}

import pino from 'pino';
import type { Cluster } from 'ioredis';
import { RedisBus } from '../../services/redis/bus';
import type { RedisKeys } from '../../services/redis/keys';
import { hashSlot } from '../../services/redis/slot';
import type { Delivery } from '../../services/bus';
import type { Message } from '../../services/types';
import { RedisCluster } from '../../support/redis-cluster';
import { ClusterClients } from '../helpers/cluster-clients';
import { eventually } from '../helpers/eventually';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * On Redis Cluster a turn's publishes were one script call per hash slot: nearly one
 * per message when the turn names many teams (issue 13). A master now gets one call
 * for all the slots it serves; a slot it does not serve as a whole (being migrated,
 * or moved while the client's slot map is stale) is left untouched by that call and
 * sent as its own, which follows ASK and MOVED: published once, in order.
 */
describeWithRedis("a turn's publishes on Redis Cluster, per master", () => {
  const log = pino({ level: 'silent' });
  let cluster: RedisCluster;
  const clients = new ClusterClients(() => cluster, log);

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);

  afterAll(async () => {
    await clients.closeAll();
    await cluster.stop();
  });

  async function scriptCalls(node: number): Promise<number> {
    const info = await cluster.cli(node, 'info', 'commandstats');
    const calls = (command: string) =>
      Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return calls('eval') + calls('evalsha');
  }

  function send(bus: RedisBus, teamId: string, text: string): Promise<Message> {
    return bus.publish({ teamId, from: { id: 'u1', name: 'U' }, data: { text } });
  }

  function busOn(cmd: Cluster, sub: Cluster, keys: RedisKeys, nodeId: string): RedisBus {
    return new RedisBus(cmd, sub, keys, {
      nodeId,
      retain: 100,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
  }

  /** `count` teams of master `master`, each in a slot of its own. */
  async function teamsOf(keys: RedisKeys, master: number, count: number, prefix: string) {
    const teams: string[] = [];
    const slots = new Set<number>();
    for (let i = 0; teams.length < count; i++) {
      const team = `${prefix}-${i}`;
      const slot = hashSlot(keys.seq(team));
      if (slots.has(slot) || (await cluster.ownerOf(slot)) !== master) continue;
      slots.add(slot);
      teams.push(team);
    }
    return teams;
  }

  it('one script call per master for a turn of teams in many slots', async () => {
    const cmd = await clients.openCluster('command');
    const sub = await clients.openCluster('subscriber');
    const keys = freshKeys();
    const bus = busOn(cmd, sub, keys, 'node-a');
    const teams = [
      ...(await teamsOf(keys, 0, 8, 'a')),
      ...(await teamsOf(keys, 1, 8, 'b')),
      ...(await teamsOf(keys, 2, 8, 'c')),
    ];
    for (let round = 1; round <= 2; round++) {
      for (const m of [0, 1, 2]) await cluster.cli(m, 'config', 'resetstat');
      const acks = await Promise.all(teams.map((t) => send(bus, t, `r${round}`)));
      expect(acks.map((m) => m.seq)).toEqual(teams.map(() => round));
      expect([await scriptCalls(0), await scriptCalls(1), await scriptCalls(2)]).toEqual([1, 1, 1]);
    }
    await bus.close();
  }, 60_000);

  it('a team whose slot is migrating is published once, in order, and delivered', async () => {
    const cmd = await clients.openCluster('command');
    const sub = await clients.openCluster('subscriber');
    const keys = freshKeys();
    const bus = busOn(cmd, sub, keys, 'node-m');
    const [moving = '', ...others] = await teamsOf(keys, 0, 6, 'm');
    const slot = hashSlot(keys.seq(moving));
    // Another node follows the moving team: every seq once, no gap.
    const watcher = busOn(
      await clients.openCluster('command'),
      await clients.openCluster('subscriber'),
      keys,
      'node-w',
    );
    const seen: number[] = [];
    const gaps: number[] = [];
    watcher.listen({
      message: (d: Delivery) => {
        if (d.teamId === moving) seen.push(d.seq);
      },
      event: () => undefined,
      gap: (teamId, _epoch, seq) => {
        if (teamId === moving) gaps.push(seq);
      },
    });
    await watcher.subscribe(moving);
    // The moving team in the middle of each turn, among teams of other slots of its master.
    const turn = async (text: string) => {
      const order = [...others.slice(0, 2), moving, ...others.slice(2)];
      const acks = await Promise.all(order.map((t) => send(bus, t, text)));
      return new Map(order.map((t, i) => [t, acks[i]?.seq]));
    };
    expect((await turn('before')).get(moving)).toBe(1);

    // The slot half-way through a migration to master 1: the team's keys already there.
    const [source, target] = await cluster
      .topology(0)
      .then((nodes) =>
        [0, 1].map((i) => nodes.find((n) => n.port === cluster.endpoints[i]?.port)?.id ?? ''),
      );
    await cluster.cli(1, 'cluster', 'setslot', String(slot), 'importing', source ?? '');
    await cluster.cli(0, 'cluster', 'setslot', String(slot), 'migrating', target ?? '');
    const teamKeys = [keys.seq(moving), keys.log(moving), keys.epoch(moving)];
    teamKeys.push(keys.epochFloor(moving));
    const port = String(cluster.endpoints[1]?.port);
    await cluster.cli(0, 'migrate', '127.0.0.1', port, '', '0', '5000', 'keys', ...teamKeys);

    for (const m of [0, 1]) await cluster.cli(m, 'config', 'resetstat');
    const during = await turn('during');
    expect(during.get(moving)).toBe(2);
    for (const t of others) expect(during.get(t)).toBe(2);
    // The others in the master's one call; the moving team in its slot's own, sent on (ASK).
    expect(await scriptCalls(0)).toBe(1);
    expect(await scriptCalls(1)).toBe(1);

    // The migration ends; the publishing client's slot map still names master 0.
    for (const m of [1, 0, 2])
      await cluster.cli(m, 'cluster', 'setslot', String(slot), 'node', target ?? '');
    const after = await turn('after');
    expect(after.get(moving)).toBe(3);
    for (const t of others) expect(after.get(t)).toBe(3);

    const log1 = await cluster.cli(1, 'xrange', keys.log(moving), '-', '+');
    expect(log1.split('\n').filter((line) => /^\d+-0$/.test(line))).toEqual(['1-0', '2-0', '3-0']);
    expect(await cluster.cli(0, 'exists', keys.log(moving))).toMatch(/0|MOVED/);
    await eventually(() => seen.length >= 3, 30_000);
    expect(seen).toEqual([1, 2, 3]);
    expect(gaps).toEqual([]);
    await bus.close();
    await watcher.close();
  }, 90_000);
});

describeWithRedis("a master's publish call with replicated acks", () => {
  const log = pino({ level: 'silent' });
  let cluster: RedisCluster;
  let paused: number | undefined;
  const clients = new ClusterClients(() => cluster, log);

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { replicas: 1 });
  }, 120_000);

  afterAll(async () => {
    if (paused !== undefined) cluster.resume(paused);
    await clients.closeAll();
    await cluster.stop();
  });

  it("waits for that master's replica: acked once it has the turn, not while it is frozen", async () => {
    const cmd = await clients.openCluster('command');
    const sub = await clients.openCluster('subscriber');
    const publisher = await clients.openCluster('publisher');
    const keys = freshKeys();
    const bus = new RedisBus(cmd, sub, keys, {
      nodeId: 'node-r',
      retain: 100,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      ackReplicas: 1,
      ackTimeoutMs: 1000,
      publisher,
      log,
    });
    const master = await cluster.masterOf(0);
    const teams: string[] = [];
    const slots = new Set<number>();
    for (let i = 0; teams.length < 6; i++) {
      const slot = hashSlot(keys.seq(`r-${i}`));
      if (slots.has(slot) || (await cluster.masterOf(slot)) !== master) continue;
      slots.add(slot);
      teams.push(`r-${i}`);
    }
    const turn = (text: string) =>
      Promise.allSettled(
        teams.map((teamId) =>
          bus.publish({ teamId, from: { id: 'u1', name: 'U' }, data: { text } }),
        ),
      );
    await cluster.cli(master, 'config', 'resetstat');
    const first = await turn('one');
    expect(first.map((r) => (r.status === 'fulfilled' ? r.value.seq : r.reason))).toEqual(
      teams.map(() => 1),
    );
    const info = await cluster.cli(master, 'info', 'commandstats');
    const calls = (command: string) =>
      Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    expect(calls('eval') + calls('evalsha')).toBe(1);

    const topology = await cluster.topology();
    const masterId = topology.find((n) => n.port === cluster.nodes[master]?.port)?.id;
    const replicaPort = topology.find((n) => n.master === masterId)?.port;
    const replica = cluster.nodes.findIndex((n) => n.port === replicaPort);
    cluster.pause(replica);
    paused = replica;
    const held = await turn('two');
    for (const r of held) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'indeterminate' });
    }
    cluster.resume(replica);
    paused = undefined;
    // The master ran the held turn: the next seqs follow it.
    const third = await turn('three');
    expect(third.map((r) => (r.status === 'fulfilled' ? r.value.seq : r.reason))).toEqual(
      teams.map(() => 3),
    );
    await bus.close();
  }, 120_000);
});

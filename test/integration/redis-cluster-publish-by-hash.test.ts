import pino from 'pino';
import { RedisBus } from '../../services/redis/bus';
import { hashSlot } from '../../services/redis/slot';
import { RedisCluster } from '../../support/redis-cluster';
import type { Message } from '../../services/types';
import { eventually } from '../helpers/eventually';
import { ClusterClients } from '../helpers/cluster-clients';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * On Redis Cluster the publish script goes with its text to each master once per
 * connection, then by hash (script-command.ts); a replica promoted in a failover is
 * a new connection, so it gets the text first, and publishing goes on.
 */
describeWithRedis('the publish script by hash on Redis Cluster', () => {
  const log = pino({ level: 'silent' });
  let cluster: RedisCluster;
  const clients = new ClusterClients(() => cluster, log);

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { replicas: 1, nodeTimeoutMs: 1000 });
  }, 60_000);

  afterAll(async () => {
    await clients.closeAll();
    await cluster.stop();
  });

  async function calls(node: number, command: string): Promise<number> {
    const info = await cluster.cli(node, 'info', 'commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  }

  function send(bus: RedisBus, teamId: string, text: string): Promise<Message> {
    return bus.publish({ teamId, from: { id: 'u1', name: 'U' }, data: { text } });
  }

  it('each master gets the text first, then the hash; a promoted replica too', async () => {
    const cmd = await clients.openCluster('command');
    const sub = await clients.openCluster('subscriber');
    const keys = freshKeys();
    const bus = new RedisBus(cmd, sub, keys, {
      nodeId: 'node-a',
      retain: 100,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    // One team per master.
    const masters: number[] = [];
    const teamOf = new Map<number, string>();
    for (let i = 0; teamOf.size < 3; i++) {
      const team = `team-${i}`;
      const master = await cluster.masterOf(hashSlot(keys.seq(team)));
      if (teamOf.has(master)) continue;
      teamOf.set(master, team);
      masters.push(master);
    }
    for (const m of masters) await cluster.cli(m, 'config', 'resetstat');
    for (let round = 1; round <= 3; round++) {
      const acks = await Promise.all(
        masters.map((m) => send(bus, teamOf.get(m) ?? '', `r${round}`)),
      );
      expect(acks.map((a) => a.seq)).toEqual([round, round, round]);
    }
    for (const m of masters) {
      expect(await calls(m, 'eval')).toBe(1);
      expect(await calls(m, 'evalsha')).toBe(2);
    }

    const old = masters[0] ?? -1;
    const team = teamOf.get(old) ?? '';
    await cluster.kill(old);
    const promoted = await cluster.failedOver(hashSlot(keys.seq(team)), old);
    expect(await calls(promoted, 'eval')).toBe(0);
    // While the client learns the new slot map a publish may be refused: sent again.
    const first = await eventually(() => send(bus, team, 'after-1'), 30_000);
    expect(await calls(promoted, 'eval')).toBeGreaterThanOrEqual(1);
    await cluster.cli(promoted, 'config', 'resetstat');
    const seqs = [first.seq];
    for (let i = 2; i <= 4; i++) seqs.push((await send(bus, team, `after-${i}`)).seq);
    seqs.forEach((s, i) => expect(s).toBe((seqs[0] ?? 0) + i));
    expect(await calls(promoted, 'eval')).toBe(0);
    expect(await calls(promoted, 'evalsha')).toBe(3);
    await bus.close();
    // Back as a replica, so that no client is left retrying a dead node.
    await cluster.restart(old);
    await cluster.settled(30_000);
  }, 90_000);

  it('calls in flight at a SCRIPT FLUSH on every master all publish, each team in order', async () => {
    const cmd = await clients.openCluster('command');
    const sub = await clients.openCluster('subscriber');
    const keys = freshKeys();
    const bus = new RedisBus(cmd, sub, keys, {
      nodeId: 'node-f',
      retain: 1000,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    const teams = Array.from({ length: 6 }, (_, i) => `flush-${i}`);
    for (const t of teams) await send(bus, t, 'warm');
    const masters = await Promise.all(teams.map((t) => cluster.masterOf(hashSlot(keys.seq(t)))));
    const sent = new Map<string, Promise<Message>[]>(teams.map((t) => [t, []]));
    for (let i = 0; i < 60; i++) {
      for (const t of teams) sent.get(t)?.push(send(bus, t, `m${i}`));
      if (i % 10 === 5) for (const m of new Set(masters)) void cluster.cli(m, 'script', 'flush');
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const t of teams) {
      const seqs = (await Promise.all(sent.get(t) ?? [])).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 2));
    }
    await bus.close();
  }, 60_000);
});

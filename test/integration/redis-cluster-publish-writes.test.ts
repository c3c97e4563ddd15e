import pino from 'pino';
import { RedisBus } from '../../services/redis/bus';
import { hashSlot } from '../../services/redis/slot';
import { RedisCluster } from '../../support/redis-cluster';
import { ClusterClients } from '../helpers/cluster-clients';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * On Redis Cluster a turn's publishes are one script call per hash slot. Written one
 * by one, that was one socket write per call, nearly one per message when the turn's
 * messages name different teams (issue 13); the turn's calls for one master now
 * leave in one write to it.
 */
describeWithRedis("a turn's publish calls on Redis Cluster", () => {
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

  it('go to each master in one socket write, every message published', async () => {
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
    // Teams in different slots, on every master.
    const teams: string[] = [];
    const slots = new Set<number>();
    for (let i = 0; teams.length < 30; i++) {
      const slot = hashSlot(keys.seq(`team-${i}`));
      if (slots.has(slot)) continue;
      slots.add(slot);
      teams.push(`team-${i}`);
    }
    const masters = cmd.nodes('master');
    const writes = masters.map(() => 0);
    masters.forEach((node, i) => {
      const socket = node.stream;
      const write = socket._write.bind(socket);
      const writev = socket._writev?.bind(socket);
      socket._write = (...args) => {
        writes[i] = (writes[i] ?? 0) + 1;
        write(...args);
      };
      if (writev)
        socket._writev = (...args) => {
          writes[i] = (writes[i] ?? 0) + 1;
          writev(...args);
        };
    });

    const acks = await Promise.all(
      teams.map((teamId) =>
        bus.publish({ teamId, from: { id: 'u1', name: 'U' }, data: { text: teamId } }),
      ),
    );

    expect(acks.map((m) => m.seq)).toEqual(teams.map(() => 1));
    // Each master served some of the slots (30 slots at random over three ranges).
    const served = masters.map((node) =>
      teams.some(
        (t) =>
          cmd.slots[hashSlot(keys.seq(t))]?.[0] === `${node.options.host}:${node.options.port}`,
      ),
    );
    expect(served).toEqual([true, true, true]);
    expect(writes).toEqual([1, 1, 1]);
    await bus.close();
  }, 60_000);
});

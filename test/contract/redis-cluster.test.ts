import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { RedisBans } from '../../services/redis/bans';
import { RedisBus } from '../../services/redis/bus';
import { createRedisClient, waitReady, type RedisClient } from '../../services/redis/connection';
import { RedisDeadLetters } from '../../services/redis/dead-letters';
import { RedisHistory } from '../../services/redis/history';
import { RedisNodeStats } from '../../services/redis/node-stats';
import { RedisPresence } from '../../services/redis/presence';
import { hashSlot } from '../../services/redis/slot';
import { RedisStore } from '../../services/redis/store';
import type { RedisOptions } from 'ioredis';
import { RedisCluster } from '../../support/redis-cluster';
import { eventually } from '../helpers/eventually';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis } from '../helpers/redis-server';
import { bansContract } from './bans-contract';
import { deadLettersContract } from './dead-letters-contract';
import { engineContract } from './engine-contract';
import { nodeStatsContract } from './node-stats-contract';
import { presenceContract } from './presence-contract';
import { storeContract } from './store-contract';

/**
 * The suites the memory engine and one Redis pass, against a real 3-master Redis
 * Cluster (all but the archive backlog's: the SQL Server archive needs one Redis).
 */
describeWithRedis('redis cluster implementations', () => {
  const log = pino({ level: 'silent' });
  let cluster: RedisCluster | undefined;
  const clients: RedisClient[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);

  // Each test's clients go with it: a cluster client keeps a connection per master
  // and re-reads the slot map every second, which adds up over a hundred tests.
  afterEach(async () => {
    const all = clients.splice(0);
    await Promise.all(all.map((c) => c.quit().catch(() => undefined)));
    for (const c of all) c.disconnect();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  async function client(role: string, extra: RedisOptions = {}): Promise<RedisClient> {
    if (!cluster) throw new Error('no cluster');
    const c = createRedisClient(
      { kind: 'cluster', nodes: cluster.endpoints, tls: false },
      role,
      log,
      extra,
    );
    clients.push(c);
    if (!(await waitReady(c, 10_000))) throw new Error('cluster client not ready');
    return c;
  }

  test('the slot of a key is the one the cluster computes', async () => {
    const keys = freshKeys();
    const samples = [
      'foo',
      '123456789',
      keys.seq('T'),
      keys.teamChannel('team-1'),
      '{}x',
      'x{}{a}',
    ];
    for (const key of samples) {
      expect(hashSlot(key)).toBe(Number((await cluster!.cli(0, 'cluster', 'keyslot', key)).trim()));
    }
  });

  engineContract('redis cluster', async ({ retain }) => {
    const nodeId = `node-${randomUUID().slice(0, 6)}`;
    const keys = freshKeys();
    const cmd = await client('command');
    const sub = await client('subscriber', { enableOfflineQueue: true, commandTimeout: undefined });
    const bus = new RedisBus(cmd, sub, keys, {
      nodeId,
      retain,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    const history = new RedisHistory(cmd, keys, { ttlSeconds: 3600 });
    // The node channel subscription must be live before kicks are addressed to it.
    await eventually(() => bus.probe(500), 10_000);
    return { bus, history, nodeId, close: () => bus.close() };
  });

  presenceContract('redis cluster', async () => {
    const presence = new RedisPresence(await client('command'), freshKeys(), {
      nodeId: 'node-a',
      leaseMs: 10_000,
      announce: async () => undefined,
      log,
    });
    await presence.start();
    return presence;
  });

  storeContract('redis cluster', async () => new RedisStore(await client('command'), freshKeys()));

  nodeStatsContract(
    'redis cluster',
    async (now) => new RedisNodeStats(await client('command'), freshKeys(), now),
  );

  deadLettersContract(
    'redis cluster',
    async (max) => new RedisDeadLetters(await client('command'), freshKeys(), max),
  );

  bansContract('redis cluster', async (max) => {
    const bans = new RedisBans(await client('command'), freshKeys(), {
      max,
      refreshMs: 0,
      onRefreshError: () => undefined,
    });
    await bans.start();
    return bans;
  });
});

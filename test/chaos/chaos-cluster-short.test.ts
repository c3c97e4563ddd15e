import type { Persistence } from '../../scripts/lib/chaos-run';
import { killAll } from '../../support/managed';
import { describeWithRedis } from '../helpers/redis-server';
import { expectShortChaosToPass } from '../helpers/short-chaos';
import { buildServerOnce } from '../helpers/build-server-once';

/**
 * `npm run chaos -- --cluster`, short: three nodes on a Redis Cluster of three
 * masters (no replicas), each Redis fault aimed at one master
 * (scripts/lib/chaos-redis.ts). Only the memory project picks up test/chaos.
 */
describeWithRedis('chaos run on a Redis Cluster, short', () => {
  beforeAll(() => buildServerOnce(), 120_000);
  afterAll(() => killAll());

  test.each<Persistence>(['aof', 'none'])(
    'Cluster %s: every fault injected; nothing lost, duplicated, reordered, skipped silently or falsely refused',
    (persistence) => expectShortChaosToPass('cluster', persistence),
    100_000,
  );
});

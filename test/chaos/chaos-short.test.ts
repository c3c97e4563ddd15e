import type { Persistence } from '../../scripts/lib/chaos-run';
import { killAll } from '../../support/managed';
import { describeWithRedis } from '../helpers/redis-server';
import { expectShortChaosToPass } from '../helpers/short-chaos';
import { buildServerOnce } from '../helpers/build-server-once';

/**
 * `npm run chaos`, short: the same run function with small parameters, once per
 * persistence mode, on real processes (three nodes, one redis-server). Lives
 * outside test/integration so only the memory project picks it up: it starts
 * its own Redis and must not run again under the redis project.
 */
describeWithRedis('chaos run, short', () => {
  beforeAll(() => buildServerOnce(), 120_000);
  afterAll(() => killAll());

  test.each<Persistence>(['aof', 'none'])(
    'Redis %s: every fault injected; nothing lost, duplicated, reordered, skipped silently or falsely refused',
    (persistence) => expectShortChaosToPass('single', persistence),
    100_000,
  );
});

import type { Logger } from 'pino';
import { RedisBans } from '../../services/redis/bans';
import type { RedisClient } from '../../services/redis/connection';
import { RedisDeadLetters } from '../../services/redis/dead-letters';
import { RedisNodeStats } from '../../services/redis/node-stats';
import { RedisPresence } from '../../services/redis/presence';
import { RedisStore } from '../../services/redis/store';
import { freshKeys } from '../helpers/redis-bus';
import { bansContract } from './bans-contract';
import { deadLettersContract } from './dead-letters-contract';
import { nodeStatsContract } from './node-stats-contract';
import { presenceContract } from './presence-contract';
import { storeContract } from './store-contract';

/**
 * The suites one Redis and a Redis Cluster pass alike: only the way a command client
 * is made differs, so both files register them here and cannot drift apart.
 */
export function redisStateContracts(
  name: string,
  command: () => Promise<RedisClient>,
  log: Logger,
): void {
  presenceContract(name, async () => {
    const presence = new RedisPresence(await command(), freshKeys(), {
      nodeId: 'node-a',
      leaseMs: 10_000,
      announce: async () => undefined,
      log,
    });
    await presence.start();
    return presence;
  });

  storeContract(name, async () => new RedisStore(await command(), freshKeys()));

  nodeStatsContract(name, async (now) => new RedisNodeStats(await command(), freshKeys(), now));

  deadLettersContract(name, async (max) => new RedisDeadLetters(await command(), freshKeys(), max));

  bansContract(name, async (max) => {
    const bans = new RedisBans(await command(), freshKeys(), {
      max,
      refreshMs: 0,
      onRefreshError: () => undefined,
    });
    await bans.start();
    return bans;
  });
}

import type { Logger } from 'pino';
import { RedisBans } from '../../services/redis/bans';
import type { RedisClient } from '../../services/redis/connection';
import { RedisDeadLetters } from '../../services/redis/dead-letters';
import { RedisNodeStats } from '../../services/redis/node-stats';
import { RedisPresence } from '../../services/redis/presence';
import { RedisStore } from '../../services/redis/store';
import { freshKeys } from '../helpers/redis-bus';
import { bansContract } from './bans-contract';
import { deadLettersContract, draft } from './dead-letters-contract';
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

  /**
   * A cluster client sends a command again when its connection closed before the
   * answer, and a node that crashed after setting a batch's rows aside leaves the
   * batch to be claimed and set aside again: either way the same add runs twice.
   */
  describe(`dead letters on ${name}: the same add run twice`, () => {
    test('keeps one dead letter per message', async () => {
      const d = new RedisDeadLetters(await command(), freshKeys(), 10);
      const drafts = [draft(1), draft(2)];
      expect(await d.add(drafts)).toBe(0);
      expect(await d.add(drafts)).toBe(0);
      expect(await d.count()).toBe(2);
      // Of a batch, only the messages not set aside yet are added.
      expect(await d.add([draft(2), draft(3)])).toBe(0);
      expect((await d.list({ limit: 10 })).deadLetters.map((l) => l.seq)).toEqual([1, 2, 3]);
    });

    test('what the cap drops counts only what was added', async () => {
      const d = new RedisDeadLetters(await command(), freshKeys(), 3);
      expect(await d.add([1, 2, 3].map((s) => draft(s)))).toBe(0);
      expect(await d.add([3, 4].map((s) => draft(s)))).toBe(1);
      expect((await d.list({ limit: 10 })).deadLetters.map((l) => l.seq)).toEqual([2, 3, 4]);
    });
  });

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

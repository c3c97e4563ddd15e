import pino from 'pino';
import { RedisBans } from '../../services/redis/bans';
import { closeRedisClient } from '../../services/redis/close-client';
import { createRedisClient } from '../../services/redis/connection';
import { RedisKeys } from '../../services/redis/keys';
import { eventually } from '../helpers/eventually';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';

/**
 * A node that starts while Redis is unreachable reads the bans before its command
 * connection is ready; the read fails. It must read them again once the
 * connection is ready, not leave a banned user free until the periodic refresh.
 */
describeWithRedis('bans read before the command connection is ready', () => {
  const redis = useRedisServer();

  test('are read again when it becomes ready', async () => {
    const keys = new RedisKeys('bans-ready:');
    const seeder = await redis.client('seed');
    const seeding = new RedisBans(seeder, keys, { refreshMs: 0, onRefreshError: () => undefined });
    await seeding.add({ userId: 'mallory', seconds: 600 });
    // Every client's commands wait out the pause, the ready check of a new connection
    // too: it connects but is not ready, as against a Redis that is still starting.
    await seeder.call('client', 'pause', '1500', 'ALL');
    const cmd = createRedisClient(
      { kind: 'single', url: redis.server.url },
      'command',
      pino({ level: 'silent' }),
    );
    const failures: unknown[] = [];
    // No periodic refresh: only the reread on 'ready' can bring the ban in.
    const bans = new RedisBans(cmd, keys, {
      refreshMs: 0,
      onRefreshError: (err) => failures.push(err),
    });
    try {
      await bans.start();
      expect(failures).toHaveLength(1);
      expect(bans.isBanned('mallory', 'A')).toBe(false);
      await eventually(() => bans.isBanned('mallory', 'A'), 15_000);
    } finally {
      await bans.close();
      await closeRedisClient(cmd);
      await seeding.close();
    }
  });
});

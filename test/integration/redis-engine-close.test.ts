import pino from 'pino';
import { loadConfig } from '../../app/config';
import { createRedisEngine } from '../../app/redis-engine';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';

/** How many timers and TCP sockets this process holds now. */
function timersAndSockets(): { timers: number; sockets: number } {
  const resources = process.getActiveResourcesInfo();
  return {
    timers: resources.filter((r) => r === 'Timeout').length,
    sockets: resources.filter((r) => r === 'TCPSocketWrap').length,
  };
}

/**
 * An engine's close() leaves nothing of it behind once it resolves: no timer, no
 * connection. A timer left running kept jest's workers alive after their last test
 * (force-exited), and would hold up a node's exit. Several rounds, since whether a
 * client's connection had closed before it was told to disconnect varied per run.
 */
describeWithRedis('a Redis engine closed', () => {
  const redis = useRedisServer();

  test('leaves no timer and no connection behind', async () => {
    const log = pino({ level: 'silent' });
    for (let round = 0; round < 5; round++) {
      const config = loadConfig({
        REDIS_URL: redis.server.url,
        REDIS_KEY_PREFIX: `close${round}:`,
        NODE_ID: 'close-test',
      });
      if (!config.redis) throw new Error('no Redis in the config');
      const before = timersAndSockets();
      const engine = await createRedisEngine({ ...config, redis: config.redis }, log);
      await engine.close();
      // Not equal: a connection of the redis-server's start may still be closing before.
      const after = timersAndSockets();
      expect({ round, timers: Math.max(after.timers, before.timers) }).toEqual({
        round,
        timers: before.timers,
      });
      expect({ round, sockets: Math.max(after.sockets, before.sockets) }).toEqual({
        round,
        sockets: before.sockets,
      });
    }
  });
});

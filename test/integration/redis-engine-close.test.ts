import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import pino from 'pino';
import { loadConfig } from '../../app/config';
import { createRedisEngine } from '../../app/redis-engine';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';

/** What keeps a process running: timers and TCP sockets. */
const HOLDING = new Set(['Timeout', 'TCPWRAP']);

/**
 * The timers and sockets made inside `body`'s async context (what it starts, and
 * what that starts in turn) that are still alive once it resolved. Jest's own timers
 * (its reporter's, when it runs a file in its own process) are not among them.
 */
async function leftBehind(body: () => Promise<void>): Promise<string[]> {
  const context = new AsyncLocalStorage<true>();
  const alive = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (HOLDING.has(type) && context.getStore() === true) alive.set(id, type);
    },
    destroy(id) {
      alive.delete(id);
    },
  });
  hook.enable();
  try {
    await context.run(true, body);
    // Node reports a destroyed resource on a later turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    return [...alive.values()];
  } finally {
    hook.disable();
  }
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
      const { redis: redisConfig } = config;
      if (!redisConfig) throw new Error('no Redis in the config');
      const left = await leftBehind(async () => {
        const engine = await createRedisEngine({ ...config, redis: redisConfig }, log);
        await engine.close();
      });
      expect({ round, left }).toEqual({ round, left: [] });
    }
  });
});

import { RedisServer } from './helpers/redis-server';

/**
 * For the "redis" jest project: one redis-server for the whole run. Test servers
 * started without an explicit engine use it, each under a key prefix of its own.
 */
export default async function setup(): Promise<void> {
  const server = await RedisServer.start();
  process.env['SB_TEST_REDIS_URL'] = server.url;
  (globalThis as { __sbRedis?: RedisServer }).__sbRedis = server;
}

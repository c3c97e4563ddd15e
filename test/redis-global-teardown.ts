import type { RedisServer } from './helpers/redis-server';

export default async function teardown(): Promise<void> {
  await (globalThis as { __sbRedis?: RedisServer }).__sbRedis?.stop();
}

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { RedisBus, type RedisBusOptions } from '../../services/redis/bus';
import { RedisKeys } from '../../services/redis/keys';
import type { SuiteRedis } from './redis-server';

export interface TestRedisBus {
  bus: RedisBus;
  /** The bus's command connection, for the test's own reads and writes. */
  cmd: Redis;
  sub: Redis;
  keys: RedisKeys;
}

/** A key prefix of its own: tests sharing a redis-server never see each other's keys. */
export function freshKeys(letter = 't'): RedisKeys {
  return new RedisKeys(`${letter}${randomUUID().slice(0, 8)}:`);
}

/**
 * A node's bus over new clients of the suite's Redis, on fresh keys unless `keys`
 * is given. Node `node-a`, 100 messages retained and a silent log unless `options`
 * says otherwise.
 */
export async function redisBus(
  redis: SuiteRedis,
  options: Partial<RedisBusOptions> & { keys?: RedisKeys } = {},
): Promise<TestRedisBus> {
  const { keys = freshKeys(), ...busOptions } = options;
  const cmd = await redis.client('command');
  const sub = await redis.client('subscriber', true);
  const bus = new RedisBus(cmd, sub, keys, {
    nodeId: 'node-a',
    retain: 100,
    ttlSeconds: 3600,
    idempotencyTtlSeconds: 600,
    log: pino({ level: 'silent' }),
    ...busOptions,
  });
  return { bus, cmd, sub, keys };
}

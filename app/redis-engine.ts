import type { Logger } from 'pino';
import { RedisBus } from '../services/redis-bus';
import { createRedisClient, waitReady } from '../services/redis-connection';
import { redisCheck } from '../services/redis-health';
import { RedisHistory } from '../services/redis-history';
import { RedisKeys } from '../services/redis-keys';
import { RedisPresence } from '../services/redis-presence';
import { RedisStore } from '../services/redis-store';
import type { Engine } from './engine';
import { IDEMPOTENCY_TTL_MS } from './memory-engine';

export interface RedisEngineOptions {
  url: string;
  keyPrefix: string;
  nodeId: string;
  historySize: number;
  historyTtlSeconds: number;
  presenceLeaseMs: number;
  log: Logger;
}

/**
 * The Redis engine: one connection for commands, one for subscriptions (a
 * subscribed connection can run nothing else). Services get the clients; this
 * factory owns them and quits them last.
 */
export async function createRedisEngine(options: RedisEngineOptions): Promise<Engine> {
  const { log } = options;
  const cmd = createRedisClient(options.url, 'command', log);
  // Subscriptions queue while connecting; ioredis re-subscribes after every reconnect.
  const sub = createRedisClient(options.url, 'subscriber', log, { enableOfflineQueue: true });
  const keys = new RedisKeys(options.keyPrefix);
  const bus = new RedisBus(cmd, sub, keys, {
    nodeId: options.nodeId,
    retain: options.historySize,
    ttlSeconds: options.historyTtlSeconds,
    idempotencyTtlSeconds: IDEMPOTENCY_TTL_MS / 1000,
    log,
  });
  const history = new RedisHistory(cmd, keys, { ttlSeconds: options.historyTtlSeconds });
  const presence = new RedisPresence(cmd, keys, {
    nodeId: options.nodeId,
    leaseMs: options.presenceLeaseMs,
    announce: (event) => bus.emit(event),
    log,
  });
  const store = new RedisStore(cmd, keys);
  // A node may start while Redis is down: it reports not ready and serves once Redis is back.
  const [ready] = await Promise.all([waitReady(cmd, 5000), waitReady(sub, 5000)]);
  if (!ready) log.warn('starting without Redis; /api/ready stays 503 until it is reachable');
  await presence.start();
  return {
    bus,
    history,
    presence,
    store,
    health: { redis: redisCheck(cmd, sub, bus, presence), db: async () => 'disabled' },
    close: async () => {
      await presence.close();
      await bus.close();
      await store.close();
      await Promise.allSettled([cmd.quit(), sub.quit()]);
      cmd.disconnect();
      sub.disconnect();
    },
  };
}

import type { RedisClient } from './connection';
import type { CheckState } from '../health';
import type { RedisBus } from './bus';

/** How long the readiness canary may take to come back through pub/sub. */
const CANARY_TIMEOUT_MS = 1000;

/**
 * Redis is `up` when every connection is ready (the publish connection too, when
 * there is one: RedisBusOptions.publisher), this node's presence is
 * registered (others can see its connections), and a canary published on the
 * command connection comes back on the subscriber.
 */
export function redisCheck(
  cmd: RedisClient,
  sub: RedisClient,
  bus: RedisBus,
  presence: { registered: boolean },
  publisher?: RedisClient,
): () => Promise<CheckState> {
  return async () => {
    if (cmd.status !== 'ready' || sub.status !== 'ready' || !presence.registered) return 'down';
    if (publisher && publisher.status !== 'ready') return 'down';
    return (await bus.probe(CANARY_TIMEOUT_MS)) ? 'up' : 'down';
  };
}

import type { RedisClient } from './connection';
import type { Logger } from 'pino';

/**
 * Warns when Redis may evict keys on its own. An evicting policy can drop a team's
 * counter, history or a remembered `ref` under memory pressure; with `noeviction`
 * Redis refuses writes instead, and a refused publish costs nothing (the sender gets
 * `unavailable`). Managed services often refuse CONFIG: that is no reason to stop.
 */
export async function warnIfEvicting(redis: RedisClient, log: Logger): Promise<void> {
  let reply: unknown;
  try {
    reply = await redis.config('GET', 'maxmemory-policy');
  } catch (err) {
    log.debug({ err }, 'could not read maxmemory-policy; eviction check skipped');
    return;
  }
  const policy = Array.isArray(reply) ? (reply as unknown[])[1] : undefined;
  if (typeof policy === 'string' && policy !== 'noeviction') {
    log.warn(
      { policy },
      'Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict seqs, history and refs; set it to noeviction',
    );
  }
}

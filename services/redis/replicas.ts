import type { Redis } from 'ioredis';
import { AppError } from '../errors';

/**
 * Sends `WAIT replicas timeoutMs` on `redis` at once, so that it goes right behind
 * the command sent just before it on the same connection (the publish script):
 * WAIT counts the replicas that hold every write this connection made so far,
 * that script's included. Resolves with undefined when at least `replicas` did, or
 * with the error to give instead of an ack: the master ran the script, so whether
 * the message survives a failover is unknown, which is `indeterminate`, never
 * `unavailable` (that promises it was not stored). Never rejects, so it can be
 * sent before the script's answer is awaited.
 */
export function waitForReplicas(
  redis: Redis,
  replicas: number,
  timeoutMs: number,
): Promise<AppError | undefined> {
  return redis.wait(replicas, timeoutMs).then(
    (reached) =>
      reached >= replicas
        ? undefined
        : new AppError(
            'indeterminate',
            `the message reached ${reached} of ${replicas} Redis replicas in time; it may be stored: send it again with the same ref to learn which`,
          ),
    (err: unknown) =>
      new AppError(
        'indeterminate',
        'the message backend did not confirm replication; the message may have been stored: send it again with the same ref to learn which',
        { cause: err },
      ),
  );
}

import type { Cluster, Redis } from 'ioredis';
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

/**
 * Redis Cluster: WAIT on the node connection the publish script was last written to
 * (`socket`, see sendKnowingOutcome's onWrite), sent once the script has answered.
 * WAIT has no key, so the cluster client would route it to any node, whose count
 * says nothing of this write; and WAIT counts only the writes of the connection it
 * is sent on, so it must be that connection, not a new one to the same address (a
 * fresh connection has written nothing and would count every replica at once).
 *
 * When that connection is gone or replaced (its master died or was dropped from the
 * slot map: a failover under way), the answer is `indeterminate`, never an ack: the
 * script ran, whether the write outlives the failover is unknown. A master demoted
 * to replica while the connection stays open refuses WAIT, which is `indeterminate`
 * too. The slot may have moved on since (MOVED, ASK): what counts is the node that
 * ran the script, and its replicas, wherever the slot is now.
 */
export function waitOnWritingConnection(
  cluster: Cluster,
  socket: object | undefined,
  replicas: number,
  timeoutMs: number,
): Promise<AppError | undefined> {
  // Checked and sent in one synchronous step: a node connection that is ready with a
  // writable socket writes the command at once (ioredis Redis#sendCommand), so WAIT
  // cannot wait in an offline queue and go out on another connection.
  const node =
    socket === undefined
      ? undefined
      : cluster
          .nodes('master')
          .find(
            (n) =>
              n.stream === socket &&
              n.status === 'ready' &&
              n.stream.writable &&
              !n.stream.writableEnded,
          );
  if (!node)
    return Promise.resolve(
      new AppError(
        'indeterminate',
        'the Redis node that stored the message went away before confirming replication (a failover?); it may be stored: send it again with the same ref to learn which',
      ),
    );
  return waitForReplicas(node, replicas, timeoutMs);
}

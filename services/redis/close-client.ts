import { Redis } from 'ioredis';
import type { RedisClient } from './connection';

/**
 * Closes a client for good: QUIT, then `disconnect()` for one that could not quit (Redis
 * down, or a connection its owner already dropped), which also stops its reconnecting.
 * A single-Redis client is awaited to its 'end', so nothing of it is left once this
 * resolves.
 *
 * Never `disconnect()` a client that already ended: ioredis then arms a 2 s timer to
 * destroy its connection and clears it on that connection's 'close', which has been
 * and gone, so the timer runs out and holds the process up for 2 s (jest's workers
 * were force-exited for it).
 */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (hasEnded(client)) return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  await client.quit().catch(() => undefined);
  if (hasEnded(client)) return;
  // Reconnecting, its connection is gone already: disconnect() stops the retries and
  // arms that timer all the same (ioredis 5.11 offers no way round it), and no 'end'
  // follows. Otherwise the connection is still open: its 'close' clears the timer and
  // ends the client (ioredis destroys a connection that does not close within 2 s).
  const endFollows = client instanceof Redis && client.status !== 'reconnecting';
  client.disconnect();
  if (endFollows) await ended;
}

/** A function, not an inline test: the status changes across the awaits in between. */
function hasEnded(client: RedisClient): boolean {
  return client.status === 'end';
}

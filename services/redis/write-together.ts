import { Cluster } from 'ioredis';
import type { RedisClient } from './connection';

/**
 * Runs `send`, which writes commands through `redis`, with every socket of the
 * client corked, then uncorks them: the commands it wrote go out in one write per
 * connection (writev), not one per command, and Redis reads them in one go and
 * answers them in one write. On Redis Cluster a turn of publishes is one script call
 * per master, plus one per slot for what a master left to its slot's call and for
 * a master's only slot: still one write per master.
 *
 * Only the moment of the write changes: each command is still routed, queued and
 * answered by ioredis on its own (MOVED, ASK, TRYAGAIN, a connection that closed),
 * and sendKnowingOutcome still hears which socket each one went to. A command is in
 * its connection's queue from its `write`, corked or not, so a connection that closes
 * after it fails it as written: never `unavailable` for a command that may have gone
 * out. Uncorked before returning, in `finally`, so nothing waits for a later turn.
 */
export function writeTogether(redis: RedisClient, send: () => void): void {
  const streams = sockets(redis);
  for (const stream of streams) stream.cork();
  try {
    send();
  } finally {
    for (const stream of streams) stream.uncork();
  }
}

interface Corkable {
  cork(): void;
  uncork(): void;
  writable: boolean;
}

/** The sockets a command may be written to now: one Redis's, or each cluster master's. */
function sockets(redis: RedisClient): Corkable[] {
  const clients = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const streams: Corkable[] = [];
  for (const client of clients) {
    // Undefined until the client first connects, whatever its typing says.
    const stream = client.stream as Corkable | undefined;
    if (stream?.writable === true) streams.push(stream);
  }
  return streams;
}

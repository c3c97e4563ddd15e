import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedisClient } from '../../services/redis/close-client';
import { createRedisClient, waitReady } from '../../services/redis/connection';

/**
 * Clients made the way the engine makes them (createRedisClient), on a test's own
 * redis-server, ready before use and all closed together at the end.
 */
export class RedisClients {
  private readonly made: Redis[] = [];

  constructor(
    private readonly url: () => string,
    private readonly log: Logger,
  ) {}

  /** A subscriber queues commands while connecting, as the engine's does. */
  async open(role: string, subscriber = false): Promise<Redis> {
    const c = createRedisClient(
      { kind: 'single', url: this.url() },
      role,
      this.log,
      subscriber ? { enableOfflineQueue: true } : {},
    );
    this.made.push(c);
    await waitReady(c, 15_000);
    return c;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map(closeRedisClient));
  }
}

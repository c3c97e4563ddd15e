import { Cluster, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedisClient } from '../../services/redis/close-client';
import { createRedisClient, waitReady, type RedisClient } from '../../services/redis/connection';
import type { RedisCluster } from '../../support/redis-cluster';

/**
 * Cluster clients made the way the engine makes them (createRedisClient), on a
 * file's own RedisCluster, ready before use and closed together after each test:
 * a cluster client keeps a connection per master and re-reads the slot map every
 * second, which adds up over a hundred tests. The cluster side of RedisClients.
 */
export class ClusterClients {
  private readonly made: RedisClient[] = [];

  constructor(
    private readonly cluster: () => RedisCluster | undefined,
    private readonly log: Logger,
  ) {}

  async open(role: string, extra: RedisOptions = {}): Promise<RedisClient> {
    const cluster = this.cluster();
    if (!cluster) throw new Error('no cluster');
    const c = createRedisClient(
      { kind: 'cluster', nodes: cluster.endpoints, tls: false },
      role,
      this.log,
      extra,
    );
    this.made.push(c);
    // ioredis gives a slot-map read 1 s; on a loaded machine some fail and back off.
    if (!(await waitReady(c, 30_000))) throw new Error('cluster client not ready');
    return c;
  }

  /** As open, typed as the Cluster client it is (for tests that reach its nodes). */
  async openCluster(role: string): Promise<Cluster> {
    const c = await this.open(role);
    if (!(c instanceof Cluster)) throw new Error('not a cluster client');
    return c;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map(closeRedisClient));
  }
}

import { killAll } from '../../support/managed';
import { spawnNode, type NodeProcess } from '../../support/node-process';
import type { TestClient } from './client';
import { useRedisServer } from './redis-server';
import { buildServerOnce } from './build-server-once';

export interface ProcessNode {
  proc: NodeProcess;
  /** The node's WebSocket URL. */
  url: string;
  /** The node's HTTP origin. */
  http: string;
}

export interface ProcessNodes {
  /** Clients closed after the suite, before its nodes are killed. */
  readonly clients: TestClient[];
  /** Spawns node `id` on the suite's Redis, with `env` on top of the defaults. */
  node(id: string, env?: Record<string, string>): Promise<ProcessNode>;
}

/**
 * For a describe block: builds the server once, spawns nodes as OS processes on one
 * redis-server of the suite's own, and kills them all after the suite.
 */
export function useProcessNodes(adminToken: string, leaseMs: number): ProcessNodes {
  const clients: TestClient[] = [];

  beforeAll(() => {
    buildServerOnce();
  }, 60000);

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    killAll();
  });

  // Declared after the hooks above, so nodes are killed before their Redis stops.
  const redis = useRedisServer();

  return {
    clients,
    async node(id, env = {}) {
      const proc = spawnNode({
        ADMIN_TOKEN: adminToken,
        PORT: '0',
        HOST: '127.0.0.1',
        NODE_ID: id,
        REDIS_URL: redis.server.url,
        PRESENCE_LEASE_MS: String(leaseMs),
        ...env,
      });
      const port = await proc.listening();
      return { proc, url: `ws://127.0.0.1:${port}/socket`, http: `http://127.0.0.1:${port}` };
    },
  };
}

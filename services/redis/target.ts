/** One `host:port` of a cluster seed node or of a Sentinel. */
export interface RedisEndpoint {
  host: string;
  port: number;
}

/**
 * Where the engine's Redis is and how to reach it, chosen by configuration. Every
 * client of a node is made from one target (connection.ts), so a new way to reach
 * Redis is one more member here and one more case there.
 * - `single`: one server by URL (`REDIS_URL`); TLS (`rediss://`) is in the URL.
 * - `cluster`: a Redis Cluster reached through seed nodes (`REDIS_CLUSTER_NODES`);
 *   ioredis learns the slot map from them and follows MOVED/ASK redirections.
 * - `sentinel`: the master of a Sentinel group (`REDIS_SENTINELS`, `REDIS_SENTINEL_NAME`);
 *   ioredis asks the sentinels for the master and asks again after every lost
 *   connection, so a node follows a failover by itself.
 */
export type RedisTarget =
  | {
      kind: 'single';
      url: string;
      /** `REDIS_PASSWORD`, for a URL without one. */
      password?: string;
    }
  | {
      kind: 'cluster';
      nodes: RedisEndpoint[];
      /** Of every node; unset: no AUTH. */
      password?: string;
      /** TLS to every node (`REDIS_TLS=true`). */
      tls: boolean;
    }
  | {
      kind: 'sentinel';
      sentinels: RedisEndpoint[];
      /** The master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
      name: string;
      /** Of the master and replicas; unset: no AUTH. */
      password?: string;
      /** Of the sentinels themselves (`requirepass` in their config); unset: no AUTH. */
      sentinelPassword?: string;
      /** TLS to the sentinels and to the master alike. */
      tls: boolean;
    };

/** `host:port` or `[v6]:port`; undefined when it is neither. */
export function parseEndpoint(text: string): RedisEndpoint | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

/**
 * The Redis a chaos run talks to, and the faults it can inject into it: one
 * redis-server, or a Redis Cluster of three masters (no replicas). On the cluster
 * each Redis fault hits one master, the one holding the team the fault is aimed
 * at, so the other masters' teams carry on meanwhile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort } from '../../support/free-port';
import { kill9, pause, resume, type Managed } from '../../support/managed';
import { RedisCluster } from '../../support/redis-cluster';
import { startRedis } from '../../support/redis-process';

export type Topology = 'single' | 'cluster';

/** How the faults differ on a cluster, for the run's output (and docs/RELIABILITY.md). */
export const CLUSTER_NOTES = [
  'Redis Cluster of 3 masters, no replicas: a kill -9 is no failover; the master comes back on its port and nodes.conf, from its AOF (aof) or empty (none).',
  'redis-kill-9 hits the master holding the pubsub team; redis-sigstop the master of a busy team, another one where the teams allow. A master frozen past cluster-node-timeout (2 s) takes the cluster to cluster_state:fail (CLUSTERDOWN for every team) until a few seconds after it wakes.',
  'pubsub-kill is CLIENT KILL TYPE pubsub on every master (shard subscribers).',
] as const;

export interface ChaosRedis {
  /** The node's environment for this Redis (REDIS_URL or REDIS_CLUSTER_NODES). */
  env: Record<string, string>;
  /** What it is, for the log. */
  describe(): string;
  /** CLIENT KILL TYPE pubsub on every Redis process: every node's subscriber drops. */
  killPubsub(): Promise<void>;
  /** PTTL of `key`: milliseconds left, -2 when the key is gone, -1 when it has no TTL. */
  pttl(key: string): Promise<number>;
  /** The Redis process holding `key`, to aim a fault at (its name for the log). */
  holder(key: string): Promise<Holder>;
  /** SIGSTOP: its sockets stay open and nothing is answered. */
  freeze(target: Holder): void;
  thaw(): void;
  /** kill -9; resolves once it is gone. */
  kill(target: Holder): Promise<void>;
  /** Starts what `kill` killed, on the same port (and AOF, with persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface Holder {
  index: number;
  name: string;
}

export async function startChaosRedis(topology: Topology, aof: boolean): Promise<ChaosRedis> {
  return topology === 'cluster' ? startCluster(aof) : startSingle(aof);
}

async function startSingle(aof: boolean): Promise<ChaosRedis> {
  const aofDir = aof ? mkdtempSync(join(tmpdir(), 'chaos-aof-')) : undefined;
  // Also when the watchdog ends the process, which skips stop().
  const removeAof = () => {
    if (aofDir !== undefined) rmSync(aofDir, { recursive: true, force: true });
  };
  process.once('exit', removeAof);
  const port = await freePort();
  const options = aofDir === undefined ? {} : { aofDir };
  let redis: Managed = await startRedis(port, options);
  return {
    env: { REDIS_URL: `redis://127.0.0.1:${port}` },
    describe: () => `redis ${port}`,
    killPubsub: () => killPubsub(port),
    pttl: (key) => withClient(new Redis(port, '127.0.0.1', LAZY), (c) => c.pttl(key)),
    holder: () => Promise.resolve({ index: 0, name: 'redis' }),
    freeze: () => pause(redis),
    thaw: () => resume(redis),
    kill: () => kill9(redis),
    async restart() {
      redis = await startRedis(port, options);
    },
    async stop() {
      await kill9(redis);
      removeAof();
      process.off('exit', removeAof);
    },
  };
}

async function startCluster(aof: boolean): Promise<ChaosRedis> {
  const cluster = await RedisCluster.start(3, { aof });
  // Also when the watchdog ends the process, which skips stop().
  const removeDirs = () => {
    for (const n of cluster.nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  process.once('exit', removeDirs);
  let frozen: number | undefined;
  let killed: number | undefined;
  return {
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    describe: () => `redis cluster ${cluster.seeds}`,
    async killPubsub() {
      await Promise.all(cluster.nodes.map((n) => killPubsub(n.port)));
    },
    pttl: (key) =>
      withClient(new Cluster(cluster.endpoints, { lazyConnect: true, redisOptions: LAZY }), (c) =>
        c.pttl(key),
      ),
    async holder(key) {
      const slot = Number((await cluster.cli(0, 'cluster', 'keyslot', key)).trim());
      const index = await cluster.ownerOf(slot);
      if (index < 0) throw new Error(`no master serves slot ${slot}`);
      return { index, name: `master ${index} (port ${cluster.nodes[index]?.port ?? '?'})` };
    },
    freeze(target) {
      frozen = target.index;
      cluster.pause(frozen);
    },
    thaw() {
      if (frozen !== undefined) cluster.resume(frozen);
      frozen = undefined;
    },
    async kill(target) {
      killed = target.index;
      await cluster.kill(killed);
    },
    async restart() {
      if (killed !== undefined) {
        await cluster.restart(killed);
        await cluster.settled();
      }
      killed = undefined;
    },
    async stop() {
      for (const n of cluster.nodes) resume(n.process);
      await cluster.stop();
      process.off('exit', removeDirs);
    },
  };
}

const LAZY = { lazyConnect: true, maxRetriesPerRequest: 0 } as const;

async function withClient<C extends Redis | Cluster, T>(
  client: C,
  use: (client: C) => Promise<T>,
): Promise<T> {
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function killPubsub(port: number): Promise<void> {
  await withClient(new Redis(port, '127.0.0.1', LAZY), (c) =>
    c.call('CLIENT', 'KILL', 'TYPE', 'pubsub'),
  );
}

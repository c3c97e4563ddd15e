import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { WireProtocol } from './loadgen/contract';
import { ManagedProcess } from './managed-process';
import { freePort } from '../support/free-port';
import { waitForHttp } from './network';
import { startRedis, startRedisCluster } from './redis-process';

/** The servers under test. Each arm starts its own processes and stops them after one run. */

export const ARM_IDS = [
  'switchboard-memory',
  'switchboard-redis',
  'switchboard-cluster',
  'raw-ws',
  'raw-ws-corked',
  'socket-io',
] as const;
export type ArmId = (typeof ARM_IDS)[number];

/** Ratios are given against this arm. */
export const BASELINE_ARM: ArmId = 'raw-ws';

/** The arms that need redis-server (and, for the cluster, redis-cli). */
export const REDIS_ARMS: readonly ArmId[] = ['switchboard-redis', 'switchboard-cluster'];

export interface ArmContext {
  /** Repository root (holds dist/). */
  root: string;
  /** taskset CPU list for every server-side process; undefined = not pinned. */
  serverCpus: string | undefined;
  /** Extra node flags for server processes (e.g. --cpu-prof). */
  nodeArgs: string[];
  /**
   * How long servers get to exit on SIGTERM. 0 = SIGKILL at once: nothing is measured
   * after a run, and a graceful close of thousands of sockets (with Switchboard's
   * presence leaves) only costs time. --cpu-prof needs a clean exit to write its file.
   */
  stopGraceMs: number;
  /** Extra environment for every Node server process (the loop probe's directory). */
  env?: Record<string, string>;
  /** A shell line run before each Node server (`ulimit -n ...` for C100k). */
  prelude?: string;
}

/** How the reconnect storm hits an arm: which node goes, and where its clients go back. */
export interface StormTarget {
  /** Client i first connects to ports[i % ports.length]. */
  ports: number[];
  disruptedPort: number;
  reconnectPort: number;
  /**
   * Kills the node (SIGKILL: a crash, no goodbye frames) and resolves at once; a
   * restart, where there is one, goes on in the background until `stop()`.
   */
  disrupt(): Promise<void>;
}

export interface RunningArm {
  publisherPort: number;
  receiverPort: number;
  processes: ManagedProcess[];
  storm: StormTarget;
  /** Switchboard's admin token (single-process arms). */
  adminToken?: string;
  stop(): Promise<void>;
}

export interface Arm {
  id: ArmId;
  label: string;
  protocol: WireProtocol;
  start(context: ArmContext): Promise<RunningArm>;
}

// Only what the servers need: nothing from the caller's environment (REDIS_URL,
// AUTH_SECRET, NODE_OPTIONS...) may change what is measured.
function baseEnv(port: number): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], PORT: String(port), HOST: '127.0.0.1' };
}

function switchboardEnv(port: number, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...baseEnv(port),
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    LOG_LEVEL: 'warn',
    // One client IP holds every connection and publishes as fast as it can.
    RATE_LIMIT_PER_S: '0',
    MAX_CONNECTIONS_PER_IP: '0',
    ...extra,
  };
}

async function startNode(
  context: ArmContext,
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  readyPath: string,
): Promise<ManagedProcess> {
  const port = Number(env['PORT']);
  const args = [...context.nodeArgs, script];
  const server = ManagedProcess.start({
    name,
    command: context.prelude ? 'sh' : process.execPath,
    args: context.prelude
      ? ['-c', `${context.prelude} && exec "$@"`, name, process.execPath, ...args]
      : args,
    env: { ...env, ...context.env },
    cpus: context.serverCpus,
  });
  try {
    await waitForHttp(server, port, readyPath);
  } catch (err) {
    await server.stop(1000);
    throw err;
  }
  return server;
}

async function stopAll(processes: ManagedProcess[], graceMs: number): Promise<void> {
  await Promise.all(processes.map((p) => p.stop(graceMs)));
}

async function singleProcess(
  context: ArmContext,
  name: string,
  script: string,
  env: (port: number) => NodeJS.ProcessEnv,
  readyPath: string,
): Promise<RunningArm> {
  const port = await freePort();
  const serverEnv = env(port);
  const server = await startNode(context, name, script, serverEnv, readyPath);
  const processes = [server];
  let restarting: Promise<void> = Promise.resolve();
  return {
    publisherPort: port,
    receiverPort: port,
    processes,
    adminToken: serverEnv['ADMIN_TOKEN'],
    storm: {
      ports: [port],
      disruptedPort: port,
      reconnectPort: port,
      async disrupt() {
        const old = processes.pop();
        await old?.stop(0);
        // The same set-up on the same port, as a supervisor would restart it.
        restarting = startNode(context, name, script, serverEnv, readyPath).then((next) => {
          processes.push(next);
        });
      },
    },
    async stop() {
      await restarting.catch(() => undefined);
      await stopAll(processes, context.stopGraceMs);
    },
  };
}

const benchServer = (context: ArmContext, file: string) =>
  join(context.root, 'dist', 'bench', 'servers', file);
const switchboardMain = (context: ArmContext) => join(context.root, 'dist', 'app', 'main.js');

/**
 * Two Switchboard nodes on the Redis processes already started: publishers on
 * node A, every other member on node B, so each delivery crosses Redis pub/sub.
 * The Redis processes count as server processes and share the server CPUs.
 */
async function twoNodes(
  context: ArmContext,
  redis: ManagedProcess[],
  redisEnv: Record<string, string>,
  stopRedis: (graceMs: number) => Promise<void>,
): Promise<RunningArm> {
  const started: ManagedProcess[] = [...redis];
  try {
    const ports = [await freePort(), await freePort()];
    const nodes = await Promise.all(
      ['a', 'b'].map((node, i) =>
        startNode(
          context,
          `switchboard-${node}`,
          switchboardMain(context),
          switchboardEnv(ports[i], { NODE_ID: `bench-${node}`, ...redisEnv }),
          '/api/ready',
        ),
      ),
    );
    started.push(...nodes);
    return {
      publisherPort: ports[0],
      receiverPort: ports[1],
      processes: started,
      storm: {
        ports,
        disruptedPort: ports[1],
        reconnectPort: ports[0],
        // One of two nodes crashes; a load balancer sends its clients to the other.
        disrupt: () => nodes[1].stop(0),
      },
      async stop() {
        await stopAll(nodes, context.stopGraceMs);
        await stopRedis(context.stopGraceMs);
      },
    };
  } catch (err) {
    await stopAll(started.slice(redis.length), 0);
    await stopRedis(0);
    throw err;
  }
}

export const ARMS: Record<ArmId, Arm> = {
  'switchboard-memory': {
    id: 'switchboard-memory',
    label: 'Switchboard memory',
    protocol: 'switchboard',
    start: (context) =>
      singleProcess(
        context,
        'switchboard',
        switchboardMain(context),
        (port) => switchboardEnv(port, { NODE_ID: 'bench' }),
        '/api/ready',
      ),
  },
  'switchboard-redis': {
    id: 'switchboard-redis',
    label: 'Switchboard Redis x2',
    protocol: 'switchboard',
    async start(context) {
      const redis = await startRedis(context.serverCpus);
      return twoNodes(context, [redis.server], { REDIS_URL: redis.url }, (grace) =>
        redis.server.stop(grace),
      );
    },
  },
  'switchboard-cluster': {
    id: 'switchboard-cluster',
    label: 'Switchboard Cluster x2',
    protocol: 'switchboard',
    // The Redis arm on a 3-master Redis Cluster: each team's slot lives on one master.
    async start(context) {
      const cluster = await startRedisCluster(context.serverCpus, 3);
      return twoNodes(context, cluster.servers, { REDIS_CLUSTER_NODES: cluster.seeds }, (grace) =>
        cluster.stop(grace),
      );
    },
  },
  'raw-ws': {
    id: 'raw-ws',
    label: 'raw ws',
    protocol: 'switchboard',
    start: (context) =>
      singleProcess(
        context,
        'raw-ws',
        benchServer(context, 'raw-ws-server.js'),
        baseEnv,
        '/health',
      ),
  },
  'raw-ws-corked': {
    id: 'raw-ws-corked',
    label: 'raw ws corked',
    protocol: 'switchboard',
    start: (context) =>
      singleProcess(
        context,
        'raw-ws-corked',
        benchServer(context, 'raw-ws-server.js'),
        (port) => ({ ...baseEnv(port), CORK: '1' }),
        '/health',
      ),
  },
  'socket-io': {
    id: 'socket-io',
    label: 'Socket.IO 4',
    protocol: 'socket-io',
    start: (context) =>
      singleProcess(
        context,
        'socket-io',
        benchServer(context, 'socket-io-server.js'),
        baseEnv,
        '/health',
      ),
  },
};

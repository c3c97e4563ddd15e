import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process';
import { freePort } from '../support/free-port';
import { clusterNodeArgs, joinCluster } from '../support/redis-cluster';
import { redisArgs } from '../support/redis-process';

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), 500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('latin1').startsWith('+PONG'));
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.once('close', () => resolve(false));
  });
}

async function answering(server: ManagedProcess, port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!server.running) throw new Error(`${server.name} exited:\n${server.output()}`);
    if (await answersPing(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await server.stop();
  throw new Error(`${server.name} did not answer on ${port}`);
}

/** A throwaway redis-server on a free loopback port, without persistence. */
export async function startRedis(
  cpus: string | undefined,
): Promise<{ server: ManagedProcess; url: string }> {
  const port = await freePort();
  const server = ManagedProcess.start({
    name: 'redis-server',
    command: 'redis-server',
    args: redisArgs(port),
    cpus,
  });
  await answering(server, port);
  return { server, url: `redis://127.0.0.1:${port}` };
}

export interface BenchCluster {
  servers: ManagedProcess[];
  /** Seed nodes as `REDIS_CLUSTER_NODES` takes them. */
  seeds: string;
  stop(graceMs: number): Promise<void>;
}

/**
 * A throwaway Redis Cluster of `masters` masters without replicas or persistence,
 * started as the tests start theirs (support/redis-cluster.ts) but as bench
 * processes: pinned with the servers, and measured.
 */
export async function startRedisCluster(
  cpus: string | undefined,
  masters = 3,
): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const servers: ManagedProcess[] = [];
  const stop = async (graceMs: number) => {
    await Promise.all(servers.map((s) => s.stop(graceMs)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const nodeDir = join(dir, String(i));
      mkdirSync(nodeDir);
      ports.push(port);
      servers.push(
        ManagedProcess.start({
          name: `redis-cluster-${i}`,
          command: 'redis-server',
          args: clusterNodeArgs(port, await freePort(), nodeDir),
          cpus,
        }),
      );
    }
    await Promise.all(servers.map((server, i) => answering(server, ports[i])));
    await joinCluster(ports);
    return { servers, seeds: ports.map((p) => `127.0.0.1:${p}`).join(','), stop };
  } catch (err) {
    await stop(0);
    throw err;
  }
}

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portOpen } from './free-port';
import { kill9, manage, pause, resume, type Managed } from './managed';

/** One master of a test cluster: its client port and the process serving it. */
export interface ClusterNode {
  port: number;
  bus: number;
  dir: string;
  process: Managed;
}

export interface ClusterOptions {
  /**
   * Each master keeps an append-only file fsynced on every write, so a master
   * killed with -9 and restarted on its directory comes back with what it
   * acknowledged. Unset: no persistence; a restarted master keeps its slots
   * (nodes.conf) but comes back empty.
   */
  aof?: boolean;
}

/**
 * A throwaway Redis Cluster of `masters` masters (no replicas) on 127.0.0.1:
 * `redis-server --cluster-enabled yes` per master on free ports, joined with
 * `redis-cli --cluster create`. The cluster bus gets a free port of its own
 * (`--cluster-port`, Redis 7) rather than the client port + 10000, which may not exist.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: ClusterNode[],
    private readonly options: ClusterOptions,
  ) {}

  /** Seed nodes as `REDIS_CLUSTER_NODES` takes them. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  get endpoints(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  static async start(masters = 3, options: ClusterOptions = {}): Promise<RedisCluster> {
    const nodes: ClusterNode[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        const dir = await mkdtemp(join(tmpdir(), 'sb-cluster-'));
        nodes.push(await startNode(await freePort(), await freePort(), dir, options));
      }
      const cluster = new RedisCluster(nodes, options);
      await cluster.create();
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => stopNode(n)));
      throw err;
    }
  }

  private async create(): Promise<void> {
    await joinCluster(this.nodes.map((n) => n.port));
  }

  private node(index: number): ClusterNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`no cluster node ${index}`);
    return node;
  }

  /** kill -9 of one master: its connections drop at once, nothing is flushed. */
  async kill(index: number): Promise<void> {
    await kill9(this.node(index).process);
  }

  /**
   * Starts a killed master again on its port and directory: the same node id and
   * slots (nodes.conf), its data from the AOF or none. Resolves once every node
   * reports cluster_state:ok again.
   */
  async restart(index: number): Promise<void> {
    const node = this.node(index);
    node.process = (await startNode(node.port, node.bus, node.dir, this.options)).process;
    await clusterOk(this.nodes.map((n) => n.port));
  }

  /** SIGSTOP of one master: its sockets stay open and nothing is answered. */
  pause(index: number): void {
    pause(this.node(index).process);
  }

  resume(index: number): void {
    resume(this.node(index).process);
  }

  /** `redis-cli` against one node, e.g. `cli(0, 'cluster', 'keyslot', 'x')`. */
  cli(node: number, ...args: string[]): Promise<string> {
    return run('redis-cli', ['-p', String(this.nodes[node]?.port ?? 0), ...args]);
  }

  /**
   * Moves the `count` lowest slots of master `from` to master `to` with
   * `redis-cli --cluster reshard`, keys and all, as an operator would.
   */
  async reshard(from: number, to: number, count: number): Promise<string> {
    const [source, target] = await Promise.all([
      this.cli(from, 'cluster', 'myid'),
      this.cli(to, 'cluster', 'myid'),
    ]);
    return run('redis-cli', [
      '--cluster',
      'reshard',
      `127.0.0.1:${this.nodes[from]?.port ?? 0}`,
      '--cluster-from',
      source.trim(),
      '--cluster-to',
      target.trim(),
      '--cluster-slots',
      String(count),
      '--cluster-yes',
      '--cluster-pipeline',
      '10',
    ]);
  }

  /** The index of the master serving `slot`. */
  async ownerOf(slot: number): Promise<number> {
    const ids = await Promise.all(this.nodes.map((_, i) => this.cli(i, 'cluster', 'myid')));
    const shards = await this.cli(0, 'cluster', 'nodes');
    for (const line of shards.split('\n')) {
      const [id, , flags, , , , , , ...ranges] = line.trim().split(' ');
      if (!flags?.includes('master')) continue;
      for (const range of ranges) {
        const [lo, hi = lo] = range.split('-').map(Number);
        if (lo !== undefined && hi !== undefined && slot >= lo && slot <= hi)
          return ids.findIndex((x) => x.trim() === id);
      }
    }
    return -1;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => stopNode(n)));
  }
}

/**
 * The command line of one cluster master on 127.0.0.1: `port` for clients, `bus`
 * for the cluster bus, its nodes.conf in `dir`, without persistence. The bench
 * starts its masters with this too, under its own process management.
 */
export function clusterNodeArgs(
  port: number,
  bus: number,
  dir: string,
  options: ClusterOptions = {},
): string[] {
  return [
    '--port',
    String(port),
    '--cluster-port',
    String(bus),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    '2000',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--loglevel',
    'warning',
  ];
}

/**
 * Joins running, empty cluster-enabled redis-servers into one cluster with
 * `redis-cli --cluster create` (slots spread evenly, no replicas) and waits until
 * every node reports cluster_state:ok.
 */
export async function joinCluster(ports: number[]): Promise<void> {
  const hosts = ports.map((port) => `127.0.0.1:${port}`);
  await run('redis-cli', ['--cluster', 'create', ...hosts, '--cluster-yes']);
  // `create` returns once the slots are assigned; every node must agree before use.
  await clusterOk(ports);
}

async function clusterOk(ports: number[]): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const states = await Promise.all(
      ports.map((port) => run('redis-cli', ['-p', String(port), 'cluster', 'info'])),
    );
    if (states.every((s) => s.includes('cluster_state:ok'))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the cluster did not reach cluster_state:ok');
}

async function startNode(
  port: number,
  bus: number,
  dir: string,
  options: ClusterOptions,
): Promise<ClusterNode> {
  const child = spawn('redis-server', clusterNodeArgs(port, bus, dir, options), {
    stdio: 'ignore',
  });
  const process = manage(child);
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await portOpen(port)) return { port, bus, dir, process };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await kill9(process);
  throw new Error(`redis-server did not listen on ${port}`);
}

async function stopNode(node: ClusterNode): Promise<void> {
  await kill9(node.process);
  await rm(node.dir, { recursive: true, force: true });
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${out.slice(-500)}`));
    });
  });
}

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portOpen } from './free-port';
import { kill9, manage, pause, resume, type Managed } from './managed';
import { redisCliTlsArgs, redisTlsArgs, type TlsFiles } from './tls-certs';

/** One node of a test cluster: its client port and the process serving it. */
export interface ClusterNode {
  port: number;
  bus: number;
  dir: string;
  nodeTimeoutMs: number;
  aof: boolean;
  tls: TlsFiles | undefined;
  process: Managed;
}

export interface RedisClusterOptions {
  /** Replicas of each master (`--cluster-replicas`); 0: masters only. */
  replicas?: number;
  /**
   * `cluster-node-timeout`: how long a node may be silent before the others call it
   * failed and, with replicas, promote one of its replicas.
   */
  nodeTimeoutMs?: number;
  /**
   * Each node keeps an append-only file fsynced on every write, so a master killed
   * with -9 and restarted on its directory comes back with what it acknowledged.
   * Unset: no persistence; a restarted node keeps its slots (nodes.conf) but comes
   * back empty.
   */
  aof?: boolean;
  /**
   * TLS only: clients, the cluster bus (`tls-cluster`) and replication, with
   * certificates from these files; `CLUSTER SLOTS` then names the TLS ports.
   */
  tls?: TlsFiles;
}

/** One line of `CLUSTER NODES`, as far as the tests need it. */
export interface ClusterNodeInfo {
  id: string;
  port: number;
  flags: string[];
  /** The master's id for a replica; `-` for a master. */
  master: string;
  /** [first, last] slot ranges a master serves. */
  slots: [number, number][];
}

/**
 * A throwaway Redis Cluster on 127.0.0.1: `redis-server --cluster-enabled yes` per
 * node on free ports, joined with `redis-cli --cluster create` (with
 * `--cluster-replicas` when asked: `masters × (1 + replicas)` nodes). The cluster
 * bus gets a free port of its own (`--cluster-port`, Redis 7) rather than the client
 * port + 10000, which may not exist. Which node is a master changes with every
 * failover: ask `masterOf`.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: ClusterNode[],
    private readonly replicas: number,
  ) {}

  /** Seed nodes as `REDIS_CLUSTER_NODES` takes them. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  get endpoints(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  static async start(masters = 3, options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 0;
    const nodes: ClusterNode[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicas); i++)
        nodes.push(
          await startNode(options.nodeTimeoutMs ?? 2000, options.aof ?? false, options.tls),
        );
      const cluster = new RedisCluster(nodes, replicas);
      await cluster.create();
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => stopNode(n)));
      throw err;
    }
  }

  private async create(): Promise<void> {
    await joinCluster(
      this.nodes.map((n) => n.port),
      this.replicas,
      this.nodes[0]?.tls,
    );
    // Every master's replicas in sync too, not only the slots agreed.
    await this.settled();
  }

  /**
   * Until every running node says `cluster_state:ok` and knows every other running
   * node, and every master has its replicas connected and in sync (`online`): a
   * failover then has a replica to promote, and WAIT has replicas to count.
   */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      last = await this.unsettled().catch((err: unknown) => String(err));
      if (last === '') return;
      if (Date.now() > deadline) throw new Error(`the test cluster did not settle: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** What is not settled yet; '' once all is. */
  private async unsettled(): Promise<string> {
    const live = this.nodes.map((_, i) => i).filter((i) => this.running(i));
    for (const i of live) {
      const info = await this.cli(i, 'cluster', 'info');
      if (!info.includes('cluster_state:ok')) return `node ${i} not ok`;
      const known = (await this.topology(i)).filter((n) => !n.flags.includes('fail'));
      if (known.length < live.length) return `node ${i} knows ${known.length} nodes`;
      // Replicas attach by gossip: a master may count a replica as in sync before
      // another node's CLUSTER NODES names it that master's replica (tests read that).
      for (const master of known.filter((n) => n.flags.includes('master') && n.slots.length > 0)) {
        const seen = known.filter((n) => n.master === master.id).length;
        if (seen < this.replicas) return `node ${i} sees ${seen} replicas of ${master.port}`;
      }
    }
    const masters = (await this.topology()).filter(
      (n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length > 0,
    );
    for (const master of masters) {
      const index = this.indexOfPort(master.port);
      const replication = await this.cli(index, 'info', 'replication');
      const online = (replication.match(/^slave\d+:.*state=online/gm) ?? []).length;
      if (online < this.replicas) return `master ${index} has ${online} replicas online`;
    }
    return '';
  }

  /** Whether node `i` has not been killed. */
  running(i: number): boolean {
    const node = this.nodes[i];
    return (
      node !== undefined &&
      node.process.child.exitCode === null &&
      node.process.child.signalCode === null
    );
  }

  /** kill -9 of node `i`: its connections drop at once, nothing is flushed. */
  async kill(i: number): Promise<void> {
    const node = this.nodes[i];
    if (node) await kill9(node.process);
  }

  /**
   * Starts killed node `i` again on its port and nodes.conf, its data from the AOF or
   * none: once a replica took over its slots it rejoins as that one's replica. Does
   * not wait for the cluster: `settled()` does.
   */
  async restart(i: number): Promise<void> {
    const node = this.nodes[i];
    if (!node || this.running(i)) return;
    node.process = await spawnNode(node.port, node.bus, node.dir, node);
  }

  /** SIGSTOP of node `i`: its sockets stay open and nothing is answered. */
  pause(i: number): void {
    const node = this.nodes[i];
    if (node) pause(node.process);
  }

  resume(i: number): void {
    const node = this.nodes[i];
    if (node) resume(node.process);
  }

  /** `CLUSTER NODES` as a running node (`via`, else the first running one) sees it. */
  async topology(via?: number): Promise<ClusterNodeInfo[]> {
    const from = via ?? this.nodes.findIndex((_, i) => this.running(i));
    const text = await this.cli(from, 'cluster', 'nodes');
    return text
      .split('\n')
      .map((line) => line.trim().split(' '))
      .filter((fields) => fields.length >= 8)
      .map(([id = '', address = '', flags = '', master = '', , , , , ...ranges]) => ({
        id,
        port: Number(address.split('@')[0]?.split(':').pop()),
        flags: flags.split(','),
        master,
        slots: ranges
          .filter((r) => !r.startsWith('['))
          .map((r) => {
            const [lo = 0, hi = lo] = r.split('-').map(Number);
            return [lo, hi] as [number, number];
          }),
      }));
  }

  /** The index of the node that serves `slot` as master (as a running node sees it); -1: none. */
  async masterOf(slot: number): Promise<number> {
    for (const node of await this.topology()) {
      if (!node.flags.includes('master') || node.flags.includes('fail')) continue;
      if (node.slots.some(([lo, hi]) => slot >= lo && slot <= hi))
        return this.indexOfPort(node.port);
    }
    return -1;
  }

  /**
   * Until `slot` is served by a running master other than node `old` (one of its
   * replicas was promoted) and every running node says `cluster_state:ok`.
   */
  async failedOver(slot: number, old: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.masterOf(slot).catch(() => -1);
      if (now >= 0 && now !== old && this.running(now)) {
        const live = this.nodes.map((_, i) => i).filter((i) => this.running(i));
        const infos = await Promise.all(live.map((i) => this.cli(i, 'cluster', 'info')));
        if (infos.every((info) => info.includes('cluster_state:ok'))) return now;
      }
      if (Date.now() > deadline) throw new Error(`slot ${slot} did not fail over from node ${old}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private indexOfPort(port: number): number {
    return this.nodes.findIndex((n) => n.port === port);
  }

  /** `redis-cli` against one node, e.g. `cli(0, 'cluster', 'keyslot', 'x')`. */
  cli(node: number, ...args: string[]): Promise<string> {
    return run('redis-cli', [...this.cliTls(), '-p', String(this.nodes[node]?.port ?? 0), ...args]);
  }

  private cliTls(): string[] {
    const tls = this.nodes[0]?.tls;
    return tls === undefined ? [] : redisCliTlsArgs(tls);
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
      ...this.cliTls(),
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
  ownerOf(slot: number): Promise<number> {
    return this.masterOf(slot);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => stopNode(n)));
  }
}

async function startNode(
  nodeTimeoutMs: number,
  aof: boolean,
  tls: TlsFiles | undefined,
): Promise<ClusterNode> {
  const port = await freePort();
  const bus = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'sb-cluster-'));
  const settings = { nodeTimeoutMs, aof, tls };
  return { port, bus, dir, ...settings, process: await spawnNode(port, bus, dir, settings) };
}

/**
 * The command line of one cluster node on 127.0.0.1: `port` for clients, `bus` for
 * the cluster bus, its nodes.conf (who it was, if restarted) in `dir`. The bench
 * starts its masters with this too, under its own process management.
 */
export function clusterNodeArgs(
  port: number,
  bus: number,
  dir: string,
  options: Pick<RedisClusterOptions, 'nodeTimeoutMs' | 'aof' | 'tls'> = {},
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
    String(options.nodeTimeoutMs ?? 2000),
    // A replica loads its master's data in memory and its sync starts at once, not
    // after the default 5 s: no dump.rdb, and a promoted node syncs its new replica fast.
    '--repl-diskless-load',
    'swapdb',
    '--repl-diskless-sync-delay',
    '0',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.aof === true
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no']),
    '--loglevel',
    'warning',
    // Last: `--port 0` in them overrides the plain port above.
    ...(options.tls === undefined
      ? []
      : [...redisTlsArgs(port, options.tls), '--tls-cluster', 'yes']),
  ];
}

/**
 * Joins running, empty cluster-enabled redis-servers into one cluster with
 * `redis-cli --cluster create` (slots spread evenly over the masters, `replicas`
 * per master) and waits until every node reports cluster_state:ok.
 */
export async function joinCluster(ports: number[], replicas = 0, tls?: TlsFiles): Promise<void> {
  const hosts = ports.map((port) => `127.0.0.1:${port}`);
  const cliTls = tls === undefined ? [] : redisCliTlsArgs(tls);
  await run('redis-cli', [
    ...cliTls,
    '--cluster',
    'create',
    ...hosts,
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  // `create` returns once the slots are assigned; every node must agree before use.
  for (let i = 0; i < 400; i++) {
    const states = await Promise.all(
      ports.map((port) => run('redis-cli', [...cliTls, '-p', String(port), 'cluster', 'info'])),
    );
    if (states.every((state) => state.includes('cluster_state:ok'))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the cluster did not reach cluster_state:ok');
}

/** redis-server for a cluster node. */
async function spawnNode(
  port: number,
  bus: number,
  dir: string,
  options: Pick<RedisClusterOptions, 'nodeTimeoutMs' | 'aof' | 'tls'>,
): Promise<Managed> {
  const child = spawn('redis-server', clusterNodeArgs(port, bus, dir, options), {
    stdio: 'ignore',
  });
  const process = manage(child);
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await portOpen(port)) return process;
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

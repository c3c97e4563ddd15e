import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, portOpen } from './free-port';
import { kill9, manage, pause, resume, type Managed } from './managed';
import { RedisServer } from './redis-process';
import { clientTlsOptions, type TlsFiles } from './tls-certs';

export interface SentinelGroupOptions {
  /** The master's name in the sentinels' configuration (REDIS_SENTINEL_NAME). */
  name?: string;
  /** How long a master may be silent before a sentinel calls it down. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** `requirepass` of the master and replica (and the `masterauth` they sync with). */
  password?: string;
  /** `requirepass` of the sentinels themselves. */
  sentinelPassword?: string;
  /**
   * TLS only, everywhere: clients, replication and the sentinels' own port and their
   * links to the servers, all with certificates from these files.
   */
  tls?: TlsFiles;
}

const SENTINELS = 3;
/** Two of three sentinels must agree that the master is down. */
const QUORUM = 2;

/**
 * A Sentinel group on the loopback interface: one master, one replica (neither
 * persistent) and three `redis-server --sentinel` processes, each with its own
 * config file in a temp dir (sentinels rewrite theirs). Which server is master
 * changes with every failover: ask `master()`.
 */
export class SentinelGroup {
  private constructor(
    readonly name: string,
    private readonly dir: string,
    readonly servers: RedisServer[],
    private readonly sentinels: { port: number; process: Managed }[],
    private readonly passwords: { server?: string; sentinel?: string },
    private readonly tls: TlsFiles | undefined,
  ) {}

  /** `REDIS_SENTINELS` for the group. */
  get endpoints(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  static async start(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
    const name = options.name ?? 'sb-master';
    const dir = await mkdtemp(join(tmpdir(), 'sb-sentinel-'));
    // Every server may become a replica: it loads the master's data in memory, so no
    // test leaves a dump.rdb in the working directory. Every server may become master:
    // it starts a replica's sync at once, not after the default 5 s.
    const inMemory = ['--repl-diskless-load', 'swapdb', '--repl-diskless-sync-delay', '0'];
    const { password, sentinelPassword, tls } = options;
    if (password !== undefined) inMemory.push('--requirepass', password, '--masterauth', password);
    const master = await RedisServer.start({ args: inMemory, ...(tls ? { tls } : {}) });
    const replica = await RedisServer.start({
      args: [...inMemory, '--replicaof', '127.0.0.1', String(master.port)],
      ...(tls ? { tls } : {}),
    });
    const sentinels: { port: number; process: Managed }[] = [];
    const group = new SentinelGroup(
      name,
      dir,
      [master, replica],
      sentinels,
      {
        ...(password === undefined ? {} : { server: password }),
        ...(sentinelPassword === undefined ? {} : { sentinel: sentinelPassword }),
      },
      tls,
    );
    try {
      for (let i = 0; i < SENTINELS; i++) {
        const port = await freePort();
        const file = join(dir, `sentinel-${i}.conf`);
        await writeFile(
          file,
          [
            ...(tls === undefined ? [`port ${port}`] : sentinelTlsLines(port, tls)),
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor ${name} 127.0.0.1 ${master.port} ${QUORUM}`,
            `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
            `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
            `sentinel parallel-syncs ${name} 1`,
            ...(password === undefined ? [] : [`sentinel auth-pass ${name} ${password}`]),
            ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`]),
            '',
          ].join('\n'),
        );
        const child = spawn('redis-server', [file, '--sentinel', '--loglevel', 'warning'], {
          stdio: 'ignore',
        });
        sentinels.push({ port, process: manage(child) });
        await waitFor(() => portOpen(port), `sentinel on ${port}`);
      }
      await group.settled();
      return group;
    } catch (err) {
      await group.stop();
      throw err;
    }
  }

  /** Asks the sentinels one by one; the first that answers names the master. */
  async masterPort(): Promise<number | undefined> {
    for (const s of this.sentinels) {
      const reply = await this.ask(s.port, ['get-master-addr-by-name', this.name]);
      if (Array.isArray(reply) && typeof reply[1] === 'string') return Number(reply[1]);
    }
    return undefined;
  }

  /** The master port each sentinel names, in order; undefined where one does not answer. */
  async views(): Promise<(number | undefined)[]> {
    return Promise.all(
      this.sentinels.map(async (s) => {
        const reply = await this.ask(s.port, ['get-master-addr-by-name', this.name]);
        return Array.isArray(reply) && typeof reply[1] === 'string' ? Number(reply[1]) : undefined;
      }),
    );
  }

  /** The one master every sentinel names, if they agree and it says it is master. */
  private async agreedMaster(): Promise<number | undefined> {
    const views = await this.views();
    const port = views[0];
    if (port === undefined || views.some((v) => v !== port)) return undefined;
    const info = await this.query(port, ['info', 'replication']);
    return typeof info === 'string' && /role:master/.test(info) ? port : undefined;
  }

  /** For a failure message: what each sentinel names and each server's role. */
  async state(): Promise<string> {
    const views = await this.views();
    const roles = await Promise.all(
      this.servers.map(async (server) => {
        const info = await this.query(server.port, ['info', 'replication']);
        const role = typeof info === 'string' ? /role:(\w+)/.exec(info)?.[1] : undefined;
        // Which connections are where: a subscriber and a command connection on
        // different servers is a canary that cannot come back.
        const list = await this.query(server.port, ['client', 'list']);
        const lines = typeof list === 'string' ? list.trim().split('\n') : [];
        const subscribers = lines.filter((l) => /\bsub=[1-9]/.test(l)).length;
        return `${server.port}=${role ?? 'no answer'} (${lines.length} clients, ${subscribers} subscribed)`;
      }),
    );
    return `sentinels name ${views.map(String).join(', ')}; servers ${roles.join(', ')}`;
  }

  /** A client of the current master (with the group's password); the caller disconnects it. */
  async masterClient(): Promise<Redis> {
    const master = await this.master();
    const client = new Redis(master.port, '127.0.0.1', {
      ...(this.passwords.server === undefined ? {} : { password: this.passwords.server }),
      ...(this.tls === undefined ? {} : { tls: clientTlsOptions(this.tls) }),
    });
    client.on('error', () => undefined);
    return client;
  }

  /** The server the sentinels currently call master. */
  async master(): Promise<RedisServer> {
    const port = await this.masterPort();
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`the sentinels name no master of this group (${String(port)})`);
    return server;
  }

  /**
   * Until the group can fail over: the master has an online replica and every
   * sentinel knows the replica and the other two sentinels.
   */
  async settled(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const port = await this.agreedMaster();
        if (port === undefined) return false;
        const info = await this.query(port, ['info', 'replication']);
        if (typeof info !== 'string' || !/slave0:.*state=online/.test(info)) return false;
        for (const s of this.sentinels) {
          const peers = await this.ask(s.port, ['sentinels', this.name]);
          const replicas = await this.ask(s.port, ['replicas', this.name]);
          if (!Array.isArray(peers) || peers.length < SENTINELS - 1) return false;
          if (!Array.isArray(replicas) || replicas.length < 1) return false;
        }
        return true;
      },
      'a settled sentinel group',
      timeoutMs,
    );
  }

  /**
   * Until every sentinel names a master other than the one on `oldPort`, and it has
   * taken the role. One sentinel's word was not enough: an old master restarted
   * (empty) while another still named it could be kept as master, and the promoted
   * replica made its replica again, which wiped the data it held.
   */
  async failedOver(oldPort: number, timeoutMs = 20_000): Promise<RedisServer> {
    await waitFor(
      async () => {
        const port = await this.agreedMaster();
        return port !== undefined && port !== oldPort;
      },
      'a failover',
      timeoutMs,
    );
    return this.master();
  }

  /** SIGSTOP of sentinel `index` (in `endpoints` order): it holds every reply meanwhile. */
  pauseSentinel(index: number): void {
    pause(this.sentinel(index).process);
  }

  resumeSentinel(index: number): void {
    resume(this.sentinel(index).process);
  }

  /** SENTINEL FAILOVER on sentinel `index`: it promotes the replica without a vote. */
  async forceFailover(index: number): Promise<void> {
    const answer = await this.ask(this.sentinel(index).port, ['failover', this.name]);
    if (answer !== 'OK') throw new Error(`SENTINEL FAILOVER answered ${String(answer)}`);
  }

  private sentinel(index: number): { port: number; process: Managed } {
    const sentinel = this.sentinels[index];
    if (!sentinel) throw new Error(`no sentinel ${index}`);
    return sentinel;
  }

  async stop(): Promise<void> {
    await Promise.all(this.sentinels.map((s) => kill9(s.process)));
    await Promise.all(this.servers.map((s) => s.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private ask(port: number, args: string[]): Promise<unknown> {
    return this.query(port, ['sentinel', ...args], this.passwords.sentinel);
  }

  /** One command on a short-lived connection; undefined when the server does not answer. */
  private async query(
    port: number,
    [command, ...args]: string[],
    password = this.passwords.server,
  ): Promise<unknown> {
    const client = new Redis(port, '127.0.0.1', {
      ...(password === undefined ? {} : { password }),
      ...(this.tls === undefined ? {} : { tls: clientTlsOptions(this.tls) }),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
      commandTimeout: 1000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await client.call(command ?? 'ping', ...args);
    } catch {
      return undefined;
    } finally {
      // Not once ended (connect failed): ioredis would arm a 2 s timer on the closed
      // connection that nothing clears, holding up the process (see close-client.ts).
      if (client.status !== 'end') client.disconnect();
    }
  }
}

/** A sentinel's config lines for TLS only on `port`, and TLS on its links to the servers. */
function sentinelTlsLines(port: number, files: TlsFiles): string[] {
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${files.cert}`,
    `tls-key-file ${files.key}`,
    `tls-ca-cert-file ${files.ca}`,
    'tls-auth-clients no',
    'tls-replication yes',
  ];
}

async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

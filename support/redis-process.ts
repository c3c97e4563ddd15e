import { spawn, spawnSync } from 'node:child_process';
import { freePort, portOpen } from './free-port';
import { kill9, manage, pause, resume, type Managed } from './managed';
import { redisTlsArgs, type TlsFiles } from './tls-certs';

/** Whether a `redis-server` binary is on PATH. */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RedisOptions {
  /**
   * Append-only file in this directory, fsynced on every write
   * (`--appendonly yes --appendfsync always`): what Redis acknowledged survives a
   * kill -9, and a restart on the same directory loads it. Unset: no persistence
   * at all, so a restart comes back empty.
   */
  aofDir?: string;
  /** Appended to the command line, e.g. `['--maxmemory', '64mb']`. */
  args?: string[];
  /** TLS only, on the server's port (`redisTlsArgs`); replication over TLS too. */
  tls?: TlsFiles;
}

/** The command line of a redis-server bound to 127.0.0.1; without persistence unless `aofDir`. */
export function redisArgs(port: number, options: RedisOptions = {}): string[] {
  const persistence =
    options.aofDir === undefined
      ? ['--appendonly', 'no']
      : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.aofDir];
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    ...persistence,
    '--loglevel',
    'warning',
    ...(options.args ?? []),
    // Last: `--port 0` here overrides the plain port given above.
    ...(options.tls === undefined ? [] : redisTlsArgs(port, options.tls)),
  ];
}

/** Starts redis-server on `port` and resolves once it accepts connections. */
export async function startRedis(port: number, options: RedisOptions = {}): Promise<Managed> {
  const child = spawn('redis-server', redisArgs(port, options), { stdio: 'ignore' });
  const managed = manage(child);
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await portOpen(port)) return managed;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await kill9(managed);
  throw new Error(`redis-server did not listen on ${port}`);
}

/** A throwaway redis-server that keeps its port across kills and restarts. */
export class RedisServer {
  private process: Managed | undefined;

  private constructor(
    readonly port: number,
    private readonly options: RedisOptions,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The running process, if any (for `rssMiB`, or `kill9`/`stop` from `./managed`). */
  get current(): Managed | undefined {
    return this.process;
  }

  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const server = await RedisServer.reserve(options);
    await server.restart();
    return server;
  }

  /** A free port for a server that is not running yet: `restart()` starts it. */
  static async reserve(options: RedisOptions = {}): Promise<RedisServer> {
    return new RedisServer(await freePort(), options);
  }

  /** Starts (again) on the same port: without `aofDir` an empty Redis, as after a crash. */
  async restart(): Promise<void> {
    const child = this.process?.child;
    if (child && child.exitCode === null && child.signalCode === null) return;
    this.process = await startRedis(this.port, this.options);
  }

  /** kill -9: connections drop at once, nothing is flushed. */
  async kill(): Promise<void> {
    if (this.process) await kill9(this.process);
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  /** SIGSTOP: connections stay open and nothing is answered, as when Redis hangs. */
  pause(): void {
    if (this.process) pause(this.process);
  }

  /** SIGCONT after `pause`: Redis runs everything it was sent meanwhile, in order. */
  resume(): void {
    if (this.process) resume(this.process);
  }
}

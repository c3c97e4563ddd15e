import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect as netConnect } from 'node:net';

/** Whether a `redis-server` binary is on PATH. */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `describe` for suites that need a real Redis. Without `redis-server` the suite
 * is skipped with a plain note, except under CI=true, where it runs and fails:
 * CI must never pass by skipping the Redis tests.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerAvailable() || process.env['CI'] === 'true') {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `SKIPPED "${name}": redis-server is not installed (CI=true makes this a failure)\n`,
  );
  describe.skip(name, body);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

/** A throwaway redis-server on a free port, without persistence. */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = await RedisServer.reserve();
    await server.restart();
    return server;
  }

  /** A free port for a server that is not running yet: `restart()` starts it. */
  static async reserve(): Promise<RedisServer> {
    return new RedisServer(await freePort());
  }

  /** Starts (again) on the same port: an empty Redis, as after a crash without persistence. */
  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    await waitForPort(this.port, child);
  }

  /** kill -9: connections drop at once, nothing is flushed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  /** SIGSTOP: connections stay open and nothing is answered, as when Redis hangs. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT after `pause`: Redis runs everything it was sent meanwhile, in order. */
  resume(): void {
    this.child?.kill('SIGCONT');
  }
}

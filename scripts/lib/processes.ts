/**
 * The processes a run starts (Switchboard nodes as `node dist/app/main.js`,
 * redis-server), on loopback only, and the guarantee that every one of them is
 * killed when the script ends, however it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join } from 'node:path';

/** The checkout: found upwards, so this runs compiled (dist/scripts/lib) and through ts-jest (scripts/lib). */
function findRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${from}`);
}

const root = findRoot(__dirname);
const MAIN = join(root, 'dist', 'app', 'main.js');

const started = new Set<ChildProcess>();

/** Kills everything this module started that still runs (exit hook; tests' afterAll). */
export function killAll(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  started.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Kills everything still running and ends the process after `ms`, whatever is pending. */
export function watchdog(ms: number, what: string): NodeJS.Timeout {
  const timer = setTimeout(() => {
    process.stderr.write(
      `${what}: watchdog fired after ${Math.round(ms / 1000)} s; killing everything\n`,
    );
    killAll();
    process.exit(2);
  }, ms);
  timer.unref();
  return timer;
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

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface Managed {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code or signal once the process has gone. */
  exited: Promise<void>;
}

function manage(child: ChildProcess): Managed {
  started.add(child);
  const exited = once(child, 'exit').then(() => {
    started.delete(child);
  });
  return { child, pid: child.pid ?? 0, exited };
}

/** kill -9 and wait until the process is gone. */
export async function kill9(p: Managed): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/** SIGSTOP: the process freezes with its sockets open, as under a long GC pause or a VM stall. */
export function pause(p: Managed): void {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGSTOP');
}

/** SIGCONT after `pause`. */
export function resume(p: Managed): void {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
}

/** SIGTERM (the graceful path), then SIGKILL if it has not exited within `ms`. */
export async function stop(p: Managed, ms = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  await p.exited;
  clearTimeout(timer);
}

export interface RedisOptions {
  /**
   * Append-only file in this directory, fsynced on every write
   * (`--appendonly yes --appendfsync always`): what Redis acknowledged survives a
   * kill -9, and a restart on the same directory loads it. Unset: no persistence
   * at all, so a restart comes back empty.
   */
  aofDir?: string;
}

/** A redis-server bound to 127.0.0.1; without persistence unless `aofDir` is given. */
export async function startRedis(port: number, options: RedisOptions = {}): Promise<Managed> {
  const persistence =
    options.aofDir === undefined
      ? ['--appendonly', 'no']
      : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.aofDir];
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      ...persistence,
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  );
  const managed = manage(child);
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await portOpen(port)) return managed;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

export interface NodeProcess extends Managed {
  port: number;
  /** JSON log lines at level error (50) or above. */
  errors: string[];
}

/** A Switchboard node on 127.0.0.1, configured only through its environment. */
export async function startNode(env: Record<string, string>): Promise<NodeProcess> {
  const { REDIS_URL: _r, MSSQL_URL: _m, ...base } = process.env;
  const child = spawn(process.execPath, [MAIN], {
    env: { ...base, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const managed = manage(child);
  const errors: string[] = [];
  let buffered = '';
  let port = 0;
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('switchboard listening'))
        port = (JSON.parse(line) as { port: number }).port;
      if (/"level":(5\d|60)/.test(line)) errors.push(line);
    }
  });
  const deadline = Date.now() + 20_000;
  while (port === 0) {
    if (child.exitCode !== null) throw new Error(`node exited before listening: ${stderr}`);
    if (Date.now() > deadline) throw new Error('node did not start within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { ...managed, port, errors };
}

/** Resident set size in MiB, from /proc (Linux); 0 where /proc is missing. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status);
    return kb ? Math.round(Number(kb[1]) / 102.4) / 10 : 0;
  } catch {
    return 0;
  }
}

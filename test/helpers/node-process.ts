import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/**
 * The real entry point as operators run it: `node dist/app/main.js`, built from
 * this checkout, configured only through the environment.
 */
const root = join(__dirname, '..', '..');
const main = join(root, 'dist', 'app', 'main.js');

/** Compiles the server (incremental); call once in beforeAll. */
export function buildServer(): void {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'pipe',
    },
  );
}

export interface NodeProcess {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the port from the "switchboard listening" log line. */
  listening(): Promise<number>;
  exited(): Promise<number | null>;
}

const running: ChildProcess[] = [];

/** Kills every process this file started; for afterEach/afterAll. */
export function killAll(): void {
  for (const child of running.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export function spawnServer(env: Record<string, string>): NodeProcess {
  const { REDIS_URL: _r, MSSQL_URL: _m, ...base } = process.env;
  const child = spawn(process.execPath, [main], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on('data', (c: Buffer) => stdout.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    stdout,
    stderr,
    exited: () => exit,
    listening: async () => {
      for (;;) {
        for (const line of stdout.join('').split('\n')) {
          if (line.includes('switchboard listening'))
            return (JSON.parse(line) as { port: number }).port;
        }
        if (child.exitCode !== null)
          throw new Error(`server exited before listening: ${stderr.join('')}`);
        await Promise.race([once(child.stdout!, 'data'), exit]);
      }
    },
  };
}

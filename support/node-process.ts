/**
 * A Switchboard node as operators run it: `node dist/app/main.js`, built from
 * this checkout, configured only through its environment.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { manage, type Managed } from './managed';

/** The checkout, found upwards: this runs compiled (dist/support) and through ts-jest (support). */
function findRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${from}`);
}

const root = findRoot(__dirname);
const MAIN = join(root, 'dist', 'app', 'main.js');

/** Compiles the server (incremental); call once in beforeAll. */
export function buildServer(): void {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'pipe' },
  );
}

export interface NodeProcess extends Managed {
  /** Output chunks as they came. */
  stdout: string[];
  stderr: string[];
  /** JSON log lines at level error (50) or above. */
  errors: string[];
  /** Resolves with the port from the "switchboard listening" log line. */
  listening(): Promise<number>;
}

/**
 * Spawns a node with exactly `env` over this process's environment, minus the
 * REDIS_URL and MSSQL_URL a developer may have exported (a test picks its engine).
 */
export function spawnNode(env: Record<string, string>): NodeProcess {
  const { REDIS_URL: _r, MSSQL_URL: _m, ...base } = process.env;
  const child = spawn(process.execPath, [MAIN], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const managed = manage(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const errors: string[] = [];
  let partial = '';
  let port = 0;
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  child.stdout!.on('data', (c: Buffer) => {
    const text = c.toString();
    stdout.push(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('switchboard listening'))
        port = (JSON.parse(line) as { port: number }).port;
      if (/"level":(5\d|60)/.test(line)) errors.push(line);
    }
  });
  const listening = async (): Promise<number> => {
    while (port === 0) {
      if (child.exitCode !== null)
        throw new Error(`node exited before listening: ${stderr.join('')}`);
      await Promise.race([once(child.stdout!, 'data'), managed.exited]);
    }
    return port;
  };
  return { ...managed, stdout, stderr, errors, listening };
}

export interface StartedNode extends NodeProcess {
  port: number;
}

/** A node on 127.0.0.1 (port 0 unless `env` says otherwise), resolved once it listens. */
export async function startNode(
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<StartedNode> {
  const node = spawnNode({ PORT: '0', HOST: '127.0.0.1', ...env });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`node did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const port = await Promise.race([node.listening(), timeout]);
    return { ...node, port };
  } finally {
    clearTimeout(timer);
  }
}

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { connect } from '../helpers/client';
import { eventually } from '../helpers/eventually';

/**
 * The real entry point as operators run it: `node dist/app/main.js`, built from
 * this checkout, with configuration only from the environment.
 */
const root = join(__dirname, '..', '..');
const main = join(root, 'dist', 'app', 'main.js');

beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'pipe',
    },
  );
}, 60000);

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function run(env: Record<string, string>): {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
} {
  const { REDIS_URL: _r, MSSQL_URL: _m, ...base } = process.env;
  const child = spawn(process.execPath, [main], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on('data', (c: Buffer) => stdout.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  return { child, stdout, stderr };
}

async function listeningPort(stdout: string[], child: ChildProcess): Promise<number> {
  for (;;) {
    for (const line of stdout.join('').split('\n')) {
      if (line.includes('switchboard listening'))
        return (JSON.parse(line) as { port: number }).port;
    }
    if (child.exitCode !== null) throw new Error('server exited before listening');
    await once(child.stdout!, 'data');
  }
}

test('a bad config value stops the process with one line naming the variable', async () => {
  const { child, stderr, stdout } = run({ RATE_LIMIT_PER_S: 'fast', PORT: '0' });
  const [code] = (await once(child, 'exit')) as [number];
  expect(code).toBe(1);
  const lines = stderr.join('').trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/RATE_LIMIT_PER_S/);
  expect(stdout.join('')).toBe('');
});

test('SIGTERM closes sockets with 1001 and exits 0', async () => {
  const { child, stdout, stderr } = run({ PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN: '' });
  const port = await listeningPort(stdout, child);
  // With no ADMIN_TOKEN, one is generated and printed once, on stderr, not in the JSON logs.
  const printed = await eventually(
    () => /admin token for this run is: (\S+)\n/.exec(stderr.join('')) ?? false,
  );
  expect(stdout.join('')).not.toContain(printed![1]);
  const res = await fetch(`http://127.0.0.1:${port}/api/teams`, {
    headers: { authorization: `Bearer ${printed![1]}` },
  });
  expect(res.status).toBe(200);

  const client = await connect(`ws://127.0.0.1:${port}/socket`, { id: 'u1', teamId: 'A' });
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  expect((await client.waitClose()).code).toBe(1001);
  const [code] = (await exited) as [number];
  expect(code).toBe(0);
}, 20000);

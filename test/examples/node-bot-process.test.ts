import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../helpers/eventually';
import { api, startTestServer, type TestServer } from '../helpers/server';

/**
 * `npm run example:bot` as a user runs it: the compiled main.ts, configured by the
 * environment, stopped by a signal. Compiled beside dist/ so that `ws` resolves,
 * in a folder of its own so parallel runs do not overwrite each other.
 */
const root = join(__dirname, '..', '..');

describe('example bot process', () => {
  let server: TestServer;
  let out: string;

  beforeAll(async () => {
    mkdirSync(join(root, 'dist'), { recursive: true });
    out = mkdtempSync(join(root, 'dist', '.example-bot-'));
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(root, 'examples', 'node-bot', 'tsconfig.json'),
        '--outDir',
        out,
      ],
      { cwd: root, stdio: 'pipe' },
    );
    server = await startTestServer({ RATE_LIMIT_PER_S: '0' });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    rmSync(out, { recursive: true, force: true });
  });

  test.each(['SIGINT', 'SIGTERM'] as const)('joins from env and exits 0 on %s', async (signal) => {
    const child = spawn(process.execPath, [join(out, 'examples', 'node-bot', 'main.js')], {
      env: { ...process.env, SWITCHBOARD_URL: server.socketUrl, TEAM_ID: 'ops', BOT_ID: 'bot-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    const stdout: string[] = [];
    child.stdout!.on('data', (c: Buffer) => stdout.push(c.toString()));
    try {
      await eventually(() => stdout.join('').includes('connected to ops as Echo bot'));
      const listed = async () =>
        JSON.stringify((await api(server, 'GET', '/api/connections?teamId=ops')).body);
      expect(await listed()).toContain('"bot-1"');

      child.kill(signal);
      const [code] = await exited;
      expect(code).toBe(0);
      expect(stdout.join('')).toContain(`${signal}: closing`);
      // It closed its socket rather than vanishing: the server lets it go.
      await eventually(async () => !(await listed()).includes('"bot-1"'));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

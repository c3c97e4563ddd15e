import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildClientOnce, CLIENT_PACKAGE_DIR } from '../helpers/build-client';
import { api, startTestServer, type TestServer } from '../helpers/server';

/**
 * client/ as someone outside this repository gets it: packed by `npm pack`,
 * installed from the tarball into a project of its own (offline: the package has
 * no dependencies), imported from Node as ESM and type-checked from TypeScript.
 */
const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const run = promisify(execFile);

interface PackResult {
  filename: string;
  files: { path: string }[];
}

interface Manifest {
  name: string;
  type?: string;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** A script run by Node from the installed project: connects, sends, prints what it got. */
const NODE_SCRIPT = `
import { CloseCodes, SwitchboardClient, SwitchboardError } from '@switchboard/client';

// Node 20 has no global WebSocket; ws comes from the repository, as an app brings its own.
const { default: WebSocket } = await import(process.env.WS_MODULE);
const client = new SwitchboardClient({
  url: process.env.SWITCHBOARD_URL,
  id: 'pkg-user',
  name: 'Package',
  teamId: 'pkg',
  WebSocket,
});
const welcome = await client.connect();
const ack = await client.send({ text: 'from the package' });
client.close();
console.log(JSON.stringify({
  teamId: welcome.teamId,
  seq: ack.seq,
  banned: CloseCodes.banned,
  error: new SwitchboardError('timeout', 'x') instanceof Error,
}));
`;

/**
 * Compiled against the installed declarations. Each @ts-expect-error must meet an
 * error, so declarations that degraded to \`any\` fail the check too.
 */
const TS_FILE = `
import {
  SwitchboardClient,
  SwitchboardError,
  type Ack,
  type Message,
  type WebSocketConstructor,
} from '@switchboard/client';

interface Chat {
  text: string;
}

declare const WebSocket: WebSocketConstructor;

export async function chat(): Promise<Ack> {
  const client = new SwitchboardClient<Chat>({
    url: 'ws://localhost:3000/socket',
    id: 'u1',
    name: 'Ada',
    teamId: 'A',
    WebSocket,
  });
  const seen: string[] = [];
  client.on('message', (m: Message<Chat>) => seen.push(\`\${m.seq}: \${m.data.text}\`));
  client.on('error', (e) => e instanceof SwitchboardError && e.retryable && seen.push(e.code));
  // @ts-expect-error the payload is a Chat
  void client.send({ text: 42 });
  // @ts-expect-error teamId is required
  void new SwitchboardClient({ id: 'u1', name: 'Ada', WebSocket });
  await client.connect();
  return client.send({ text: 'hello' });
}
`;

/** How Node projects resolve it, and how browser bundlers do. */
const TS_CONFIGS = {
  node: { module: 'nodenext', moduleResolution: 'nodenext', lib: ['ES2022'] },
  bundler: { module: 'esnext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'] },
};

let tmp: string;
let app: string;
let packed: PackResult;
let server: TestServer;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sb-client-pkg-'));
  // Built the atomic way first, and packed without the prepack build, so that a
  // server in another jest worker never serves a half-written module.
  buildClientOnce();
  const npm = (args: string[], cwd: string) =>
    execFileSync('npm', [...args, '--cache', join(tmp, 'npm-cache')], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const pack = JSON.parse(
    npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], CLIENT_PACKAGE_DIR),
  ) as PackResult[];
  packed = pack[0]!;

  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }),
  );
  npm(['install', join(tmp, packed.filename), '--offline', '--no-audit', '--no-fund'], app);
  server = await startTestServer();
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the module, its declarations and the docs, and no source', () => {
  expect(packed.files.map((f) => f.path).sort()).toEqual([
    'CHANGELOG.md',
    'README.md',
    'dist/client/switchboard-client.d.ts',
    'dist/client/switchboard-client.js',
    'dist/protocol/close-codes.d.ts',
    'dist/protocol/errors.d.ts',
    'dist/protocol/frames.d.ts',
    'dist/protocol/limits.d.ts',
    'package.json',
  ]);
});

test('the installed package is an ES module with types and no dependencies', () => {
  const manifest = JSON.parse(
    readFileSync(join(app, 'node_modules', '@switchboard', 'client', 'package.json'), 'utf8'),
  ) as Manifest;
  expect(manifest.name).toBe('@switchboard/client');
  expect(manifest.type).toBe('module');
  expect(manifest.exports?.['.']).toEqual({
    types: './dist/client/switchboard-client.d.ts',
    import: './dist/client/switchboard-client.js',
  });
  expect(manifest.dependencies).toBeUndefined();
  expect(manifest.peerDependencies).toBeUndefined();
  expect(manifest.optionalDependencies).toBeUndefined();
});

test('Node imports it by name and talks to a real server with it', async () => {
  writeFileSync(join(app, 'main.js'), NODE_SCRIPT);
  const { stdout } = await run(process.execPath, ['main.js'], {
    cwd: app,
    env: {
      ...process.env,
      SWITCHBOARD_URL: server.socketUrl,
      WS_MODULE: pathToFileURL(require.resolve('ws')).href,
    },
  });
  expect(JSON.parse(stdout)).toEqual({ teamId: 'pkg', seq: 1, banned: 4003, error: true });
  const history = await api<{ messages: { data: unknown }[] }>(
    server,
    'GET',
    '/api/teams/pkg/messages',
  );
  expect(history.body.messages.map((m) => m.data)).toEqual([{ text: 'from the package' }]);
});

test.each(Object.entries(TS_CONFIGS))(
  'TypeScript type-checks against its declarations (%s resolution)',
  async (name, options) => {
    writeFileSync(join(app, 'chat.ts'), TS_FILE);
    const config = join(app, `tsconfig.${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          ...options,
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: [],
          // The package's own declarations are checked too, not taken on trust;
          // TypeScript's own lib files (lib.dom.d.ts is large) are trusted.
          skipLibCheck: false,
          skipDefaultLibCheck: true,
        },
        files: ['chat.ts'],
      }),
    );
    const result = await run(process.execPath, [tsc, '-p', config], { cwd: app }).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }),
    );
    expect(result.stdout).toBe('');
  },
  // tsc in a child process, on a machine that runs other suites at the same time.
  60_000,
);

test('the server serves the same module at /client/switchboard.js', async () => {
  const served = await fetch(`${server.http}/client/switchboard.js`);
  expect(served.status).toBe(200);
  const installed = readFileSync(
    join(app, 'node_modules', '@switchboard', 'client', 'dist', 'client', 'switchboard-client.js'),
    'utf8',
  );
  expect(await served.text()).toBe(installed);
});

import { connect } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { killAll } from '../../support/managed';
import { spawnNode } from '../../support/node-process';
import { buildServerOnce } from '../helpers/build-server-once';

beforeAll(buildServerOnce, 60000);
afterEach(killAll);

test('a bad config value stops the process with one line naming the variable', async () => {
  const server = spawnNode({ RATE_LIMIT_PER_S: 'fast', PORT: '0' });
  expect(await server.exited).toBe(1);
  const lines = server.stderr.join('').trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/RATE_LIMIT_PER_S/);
  expect(server.stdout.join('')).toBe('');
});

test.each([
  [{ REDIS_URL: 'redis://127.0.0.1:1', REDIS_SENTINELS: '127.0.0.1:2' }, 'REDIS_SENTINELS'],
  [{ REDIS_SENTINELS: '127.0.0.1:2' }, 'REDIS_SENTINEL_NAME'],
  [{ REDIS_SENTINELS: '127.0.0.1', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
])('a bad way to reach Redis stops the process with one line: %o', async (env, variable) => {
  const server = spawnNode({ ...env, PORT: '0' });
  expect(await server.exited).toBe(1);
  const lines = server.stderr.join('').trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`${variable}: `);
  expect(server.stdout.join('')).toBe('');
});

test('SIGTERM closes sockets with 1001 and exits 0', async () => {
  const server = spawnNode({ PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN: '' });
  const port = await server.listening();
  // With no ADMIN_TOKEN, one is generated and printed once, on stderr, not in the JSON logs.
  const printed = await eventually(
    () => /admin token for this run is: (\S+)\n/.exec(server.stderr.join('')) ?? false,
  );
  expect(server.stdout.join('')).not.toContain(printed[1]);
  const res = await fetch(`http://127.0.0.1:${port}/api/teams`, {
    headers: { authorization: `Bearer ${printed[1]}` },
  });
  expect(res.status).toBe(200);

  const client = await connect(`ws://127.0.0.1:${port}/socket`, { id: 'u1', teamId: 'A' });
  server.child.kill('SIGTERM');
  expect((await client.waitClose()).code).toBe(1001);
  expect(await server.exited).toBe(0);
}, 20000);

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LISTEN_BACKLOG } from '../../app/start-server';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * When a node restarts, all its clients come back at once. With Node's default
 * backlog (511) the kernel drops the SYNs past it and those clients wait 1, 3, 7...
 * seconds to retry, which is most of a reconnect storm's time (docs/BENCHMARK.md).
 * For a listening socket, `ss` shows the backlog in the Send-Q column.
 */

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const linux = process.platform === 'linux';

(linux ? test : test.skip)('the server listens with a backlog past Node’s default', async () => {
  server = await startTestServer();
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  const line = execFileSync('ss', ['-Hltn', `sport = :${server.port}`], { encoding: 'utf8' });
  // State Recv-Q Send-Q Local:Port Peer:Port
  const sendQ = Number(line.trim().split(/\s+/)[2]);
  expect(sendQ).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
  expect(sendQ).toBeGreaterThan(511);
});

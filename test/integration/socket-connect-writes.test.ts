/**
 * What a connect costs the server in writes to the TCP socket: the 101 response
 * waits for the welcome and they leave together, on the embedded engine (the whole
 * set-up runs in one turn) and on Redis (the welcome waits a round trip or two).
 * Both projects run it.
 */
import type { Socket } from 'node:net';
import { connect } from '../helpers/client';
import { serverPerTest } from '../helpers/server-per-test';
import { countSocketWrites } from '../helpers/socket-writes';

const servers = serverPerTest();

test('the 101 response and the welcome leave the server in one write', async () => {
  const server = await servers.start();
  const counts: number[] = [];
  server.running.server.on('connection', (socket: Socket) =>
    countSocketWrites(socket, counts, 'writes'),
  );
  const client = servers.keep(
    await connect(server.socketUrl, { id: 'u1', name: 'one', teamId: 'writes' }),
  );
  expect(client.welcome.type).toBe('welcome');
  expect(counts).toEqual([1]);
});

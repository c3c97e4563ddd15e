/**
 * What a connect costs the server in writes to the TCP socket: on the embedded
 * engine the whole set-up runs in one turn of the event loop, so the 101 response
 * and the welcome leave together. Memory project only: on Redis the welcome waits
 * for Redis, and the 101 goes out alone at the end of its turn.
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

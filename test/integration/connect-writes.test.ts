/**
 * What a connect costs the server in writes to the TCP socket: on the embedded
 * engine the whole set-up runs in one turn of the event loop, so the 101 response
 * and the welcome leave together. Memory project only: on Redis the welcome waits
 * for Redis, and the 101 goes out alone at the end of its turn.
 */
import type { Socket } from 'node:net';
import { connect } from '../helpers/client';
import { serverPerTest } from '../helpers/server-per-test';

const servers = serverPerTest();

/** Counts the writes each accepted socket hands to its handle (one per write or writev). */
function countWrites(socket: Socket, counts: number[]): void {
  const index = counts.push(0) - 1;
  const write = socket._write.bind(socket);
  socket._write = (chunk, encoding, callback) => {
    counts[index]!++;
    write(chunk, encoding, callback);
  };
  const writev = socket._writev?.bind(socket);
  if (writev) {
    socket._writev = (chunks, callback) => {
      counts[index]!++;
      writev(chunks, callback);
    };
  }
}

test('the 101 response and the welcome leave the server in one write', async () => {
  const server = await servers.start();
  const counts: number[] = [];
  server.running.server.on('connection', (socket: Socket) => countWrites(socket, counts));
  const client = servers.keep(
    await connect(server.socketUrl, { id: 'u1', name: 'one', teamId: 'writes' }),
  );
  expect(client.welcome.type).toBe('welcome');
  expect(counts).toEqual([1]);
});

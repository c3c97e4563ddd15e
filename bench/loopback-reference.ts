import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';

/**
 * A yardstick for the machine's speed at the moment, in the heartbeat's own terms:
 * CPU µs (user + system, both ends in this process) per round trip of a 2-byte
 * write and a 6-byte answer over one loopback TCP connection, as a ping and its pong
 * are. The VM this runs on has run the same code at half speed some hours and full
 * speed others; a heartbeat figure next to this one can be compared across runs.
 */
export async function loopbackReferenceUs(roundTrips = 100_000): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(client, 'connect');
  const [peer] = await accepted;
  const ping = Buffer.from([0x89, 0x00]);
  const pong = Buffer.from([0x8a, 0x80, 1, 2, 3, 4]);
  peer.on('data', () => peer.write(pong));
  let left = 0;
  let done: () => void = () => undefined;
  client.on('data', () => {
    if (--left === 0) done();
    else client.write(ping);
  });
  const run = (n: number) =>
    new Promise<void>((resolve) => {
      left = n;
      done = resolve;
      client.write(ping);
    });
  // Unmeasured first: the JIT's warm-up is not the machine's speed.
  await run(5000);
  const start = process.cpuUsage();
  await run(roundTrips);
  const used = process.cpuUsage(start);
  client.destroy();
  peer.destroy();
  server.close();
  return (used.user + used.system) / roundTrips;
}

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Lowest port handed out: clear of the well-known services a machine may run. */
const LOWEST = 10_000;
/** Blocks of ports: one per jest worker (JEST_WORKER_ID 1..), block 0 for everyone else. */
const BLOCKS = 9;

/**
 * The kernel's range for connections' source ports. A port picked inside it (as
 * `listen(0)` picks) can be taken as the source port of any outgoing connection
 * between the pick and the server's bind: with two jest workers, or a test that opens
 * thousands of connections, that happened (a redis-server that exited with 1).
 */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > LOWEST + 1000 ? value : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago on the loopback interface, below the ephemeral
 * range so no outgoing connection takes it meanwhile, and in a block of its own per
 * jest worker so two workers never pick the same one.
 */
export async function freePort(): Promise<number> {
  const size = Math.floor((ephemeralLow() - LOWEST) / BLOCKS);
  const worker = Number(process.env['JEST_WORKER_ID'] ?? 0);
  const block = LOWEST + (Number.isInteger(worker) ? worker % BLOCKS : 0) * size;
  for (let tries = 0; tries < 50; tries++) {
    // At random within the block: a port a finished test used may still have
    // clients trying to reconnect to it.
    const port = block + Math.floor(Math.random() * size);
    if (await bindable(port)) return port;
  }
  return anyFreePort();
}

/** What the kernel picks: only if the block is full. */
async function anyFreePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts TCP connections on the loopback port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

import { startRamp } from '../loadgen/ramp';
import { WsClient, type ClientHandler } from '../loadgen/ws-client';

/**
 * The load side of the heartbeat harness (heartbeat-cost.ts), a child process of its
 * own: opens `connections` Switchboard sockets and holds them idle, answering every
 * ping with a pong as ws and browsers do (ws-client.ts). Tells its parent `ready`
 * once every welcome arrived, and `dropped` for any socket that closes afterwards.
 */

// Source ports picked here, on addresses from 127.0.0.2 (see hold-run.ts for why).
const FIRST_PORT = 10_000;
const PORTS_PER_ADDRESS = 50_000;
const WELCOME = Buffer.from('{"type":"welcome"');

type ToParent = { type: 'ready'; ms: number } | { type: 'dropped'; reason: string };

function tell(message: ToParent): void {
  process.send?.(message);
}

function hold(port: number, connections: number, firstPort: number): void {
  let holding = false;
  // Another process (a bench run of someone else) may hold a port: skip it and go on.
  let nextSlot = firstPort - FIRST_PORT;
  let retries = 0;
  const open = (i: number) => {
    const slot = nextSlot++;
    new WsClient(i, handler).open(port, `/socket?id=u${i}&name=u${i}&teamId=t${i}`, {
      address: `127.0.0.${2 + (Math.floor(slot / PORTS_PER_ADDRESS) % 200)}`,
      port: FIRST_PORT + (slot % PORTS_PER_ADDRESS),
    });
  };
  // Its callbacks run on I/O, after the ramp below exists.
  const handler: ClientHandler = {
    opened: () => undefined,
    frame: (_client, buf, start, end) => {
      if (
        !holding &&
        end - start >= WELCOME.length &&
        buf.compare(WELCOME, 0, WELCOME.length, start, start + WELCOME.length) === 0
      ) {
        ramp.settled();
      }
    },
    closed: (client, reason) => {
      if (holding) tell({ type: 'dropped', reason });
      else if (/EADDRINUSE|EADDRNOTAVAIL/.test(reason) && ++retries <= connections)
        open(client.index);
      else ramp.fail(new Error(`a connection failed while opening: ${reason}`));
    },
  };
  const ramp = startRamp({
    count: connections,
    concurrency: 200,
    timeoutMs: Math.max(60_000, connections * 20),
    open,
    timedOut: (n) => new Error(`only ${n}/${connections} connections came up`),
  });
  ramp.done.then(
    (ms) => {
      holding = true;
      tell({ type: 'ready', ms });
    },
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}

const [port, connections, firstPort] = process.argv.slice(2).map(Number);
if (!port || !connections || !firstPort) {
  console.error('usage: idle-holder <port> <connections> <first source port>');
  process.exit(2);
}
hold(port, connections, firstPort);

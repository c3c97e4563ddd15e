import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { BanMirror, makeBan } from '../../services/bans';
import { Hub, LocalConnection } from '../../services/socket/hub';
import { createMetrics } from '../../services/metrics';

/**
 * The hub closes banned sockets with 4003: on a `ban` event, and when a socket whose
 * handshake passed just before the ban arrived is added afterwards. Real sockets.
 */
let wss: WebSocketServer;
let hub: Hub;
let mirror: BanMirror;
const clients: WebSocket[] = [];

beforeEach(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  mirror = new BanMirror();
  hub = new Hub({
    maxBufferedBytes: 1 << 20,
    heartbeatMs: 60_000,
    presenceWindowMs: 0,
    isBanned: (userId, teamId) => mirror.isBanned(userId, teamId),
    metrics: createMetrics(),
    log: pino({ level: 'silent' }),
  });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

/** Adds a connection of the user in the team; resolves with its client's close code. */
async function member(userId: string, teamId: string): Promise<{ closed: Promise<number> }> {
  const { port } = wss.address() as AddressInfo;
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  clients.push(client);
  const closed = new Promise<number>((resolve) => client.on('close', (code) => resolve(code)));
  const [socket] = await accepted;
  hub.add(
    new LocalConnection(
      {
        connId: `c${clients.length}`,
        userId,
        name: userId,
        teamId,
        node: 'n',
        ip: '127.0.0.1',
        connectedAt: new Date().toISOString(),
      },
      socket,
      undefined,
    ),
  );
  return { closed };
}

test('a ban event closes the user in that team with 4003, and nobody else', async () => {
  // connIds c1, c2, c3, in this order.
  const target = await member('mallory', 'A');
  const elsewhere = await member('mallory', 'B');
  const other = await member('alice', 'A');
  const ban = makeBan({ userId: 'mallory', teamId: 'A', seconds: 60 }, Date.now());
  hub.event({ kind: 'ban', ban });
  expect(await target.closed).toBe(4003);
  // Kicked afterwards (4000): a socket the ban had closed would report 4003.
  hub.kick('c2');
  hub.kick('c3');
  expect(await elsewhere.closed).toBe(4000);
  expect(await other.closed).toBe(4000);
});

test('a socket added after its ban arrived is closed with 4003 at once', async () => {
  mirror.set(makeBan({ userId: 'late', teamId: 'A', seconds: 60 }, Date.now()));
  const late = await member('late', 'A');
  expect(await late.closed).toBe(4003);
});

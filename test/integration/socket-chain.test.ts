/**
 * The socket chain (koa.ws.use) as the app runs it: composed once for every
 * connection rather than once per connection, and an error that escapes it logged.
 */
import WebSocket from 'ws';
import { eventually } from '../helpers/eventually';
import { serverPerTest } from '../helpers/server-per-test';

const servers = serverPerTest();

/** The chain's list, behind a proxy that counts how often its entries are read. */
function countEntryReads<T extends object>(list: T[]): { list: T[]; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(list, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { list: proxy, reads: () => reads };
}

test('the socket chain is composed once, not on every connection', async () => {
  const server = await servers.start();
  const ws = server.app.koa.ws;
  const counted = countEntryReads(ws.middleware);
  ws.middleware = counted.list;
  const entries = ws.middleware.length;
  for (const id of ['u1', 'u2', 'u3', 'u4']) {
    const client = await servers.open(id, { teamId: 'chain' });
    expect(client.welcome.type).toBe('welcome');
  }
  // One read of each entry when the chain was built; koa-websocket read them all per connection.
  expect(counted.reads()).toBe(entries);
});

test('an error that escapes the socket chain is logged, not swallowed', async () => {
  const server = await servers.start();
  server.app.koa.ws.middleware.unshift(() => {
    throw new Error('broken before the error mapper');
  });
  const socket = new WebSocket(`${server.socketUrl}?id=u1&name=one&teamId=chain`);
  socket.on('error', () => undefined);
  try {
    await eventually(() =>
      server.logs.some(
        (line) =>
          line.includes('socket chain failed') && line.includes('broken before the error mapper'),
      ),
    );
  } finally {
    socket.terminate();
  }
});

/**
 * Security review, slow and idle clients. A ws client with autoPong off being
 * dropped is in test/integration/socket-limits.test.ts; here the clients are raw
 * TCP, as an attacker's would be.
 *
 * A slow or half-sent handshake is cut after HANDSHAKE_TIMEOUT_MS (checked every
 * second at most), instead of Node's 60-90 s defaults; the tests use a short one.
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { eventually } from '../helpers/eventually';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;

afterEach(async () => {
  await server.close();
});

async function rawSocket(port: number): Promise<Socket> {
  const socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Resolves with ms from now until the server closes the connection, or rejects after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${limitMs} ms`));
    }, limitMs);
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

const upgradeHead = (key: string) =>
  'GET /socket?id=u1&name=n&teamId=T HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
  'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;

test('the HTTP server takes its header timeout from HANDSHAKE_TIMEOUT_MS', async () => {
  server = await startTestServer({ HANDSHAKE_TIMEOUT_MS: '1500' });
  expect(server.running.server.headersTimeout).toBe(1500);
  expect(server.running.server.requestTimeout).toBeGreaterThanOrEqual(1500);
});

test('an upgraded raw TCP client that never answers a ping is dropped by the heartbeat', async () => {
  server = await startTestServer({ HEARTBEAT_MS: '200' });
  const socket = await rawSocket(server.port);
  socket.write(`${upgradeHead(randomBytes(16).toString('base64'))}\r\n`);
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  await eventually(() => received.includes('"type":"welcome"'));
  expect(received).toMatch(/^HTTP\/1\.1 101/);
  expect(server.app.hub.size).toBe(1);
  // It reads (so no slow-consumer close) but never answers: a ping, then a cut at the next beat.
  // The bound is the contract (two heartbeats) with slack for a loaded machine, not a speed figure.
  await closedWithin(socket, 200 * 2 + 5000);
  await eventually(() => server.app.hub.size === 0);
});

describe('slow handshakes', () => {
  const TIMEOUT_MS = 500;
  // The configured timeout plus one check interval, with slack for a loaded machine:
  // the bound is the contract, not a speed figure.
  const BOUND_MS = TIMEOUT_MS * 2 + 5000;

  test('a partial upgrade request is closed by the server', async () => {
    server = await startTestServer({ HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) });
    const socket = await rawSocket(server.port);
    socket.write(upgradeHead(randomBytes(16).toString('base64')));
    await closedWithin(socket, BOUND_MS);
    expect(server.app.hub.size).toBe(0);
  });

  test('a client trickling header lines is closed too', async () => {
    server = await startTestServer({ HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) });
    const socket = await rawSocket(server.port);
    socket.write(upgradeHead(randomBytes(16).toString('base64')));
    let n = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(`X-Trickle-${n++}: x\r\n`);
    }, 100);
    try {
      await closedWithin(socket, BOUND_MS);
    } finally {
      clearInterval(timer);
    }
  });
});

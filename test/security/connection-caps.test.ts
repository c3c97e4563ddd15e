/**
 * Security review, connection caps. The per-IP cap (429), a slot freeing on close,
 * X-Forwarded-For ignored without TRUST_PROXY and MAX_CONNECTIONS (503) are in
 * test/integration/socket-handshake.test.ts. This file adds what an attacker would
 * lean on: a parallel burst racing the check, refused handshakes and dropped TCP
 * connections leaking slots.
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { connect, refusedHandshake, socketUrl, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { startTestServer, type TestServer } from '../helpers/server';

const SECRET = 'security-review-secret-at-least-32-chars';

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

/** Opens `n` handshakes at once; resolves with how many got a welcome. */
async function burst(n: number, token?: (i: number) => Promise<string>): Promise<number> {
  const sockets: WebSocket[] = [];
  const outcomes = await Promise.all(
    Array.from(
      { length: n },
      async (_, i) =>
        new Promise<boolean>((resolve) => {
          void (token ? token(i) : Promise.resolve(undefined)).then((t) => {
            const ws = new WebSocket(
              socketUrl(server.socketUrl, {
                id: `u${i}`,
                teamId: 'A',
                ...(t === undefined ? {} : { token: t }),
              }),
            );
            sockets.push(ws);
            ws.on('message', () => resolve(true));
            ws.on('unexpected-response', () => resolve(false));
            ws.on('error', () => resolve(false));
          });
        }),
    ),
  );
  const opened = outcomes.filter(Boolean).length;
  for (const ws of sockets) ws.terminate();
  return opened;
}

describe.each([
  ['MAX_CONNECTIONS_PER_IP', { MAX_CONNECTIONS_PER_IP: '5' }],
  ['MAX_CONNECTIONS', { MAX_CONNECTIONS: '5' }],
])('%s under a burst of 60 parallel handshakes', (_name, env) => {
  test('no more than the cap get in', async () => {
    server = await startTestServer(env);
    expect(await burst(60)).toBe(5);
  });

  test('no more than the cap get in while tokens are verified (AUTH_SECRET set)', async () => {
    server = await startTestServer({ ...env, AUTH_SECRET: SECRET });
    const key = new TextEncoder().encode(SECRET);
    const token = (i: number) =>
      new SignJWT({ sub: `u${i}`, team: 'A' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(key);
    expect(await burst(60, token)).toBe(5);
  });
});

test('refused handshakes take no slot of the per-IP cap', async () => {
  server = await startTestServer({
    MAX_CONNECTIONS_PER_IP: '2',
    ALLOWED_ORIGINS: 'https://ok.example',
  });
  for (let i = 0; i < 20; i++) {
    expect((await refusedHandshake(`${server.socketUrl}?id=bad id`)).status).toBe(400);
    const wrongOrigin = socketUrl(server.socketUrl, { id: `x${i}`, teamId: 'A' });
    expect((await refusedHandshake(wrongOrigin, { origin: 'https://evil.example' })).status).toBe(
      403,
    );
  }
  clients.push(await connect(server.socketUrl, { id: 'u1', teamId: 'A' }));
  clients.push(await connect(server.socketUrl, { id: 'u2', teamId: 'A' }));
  expect(
    (await refusedHandshake(socketUrl(server.socketUrl, { id: 'u3', teamId: 'A' }))).status,
  ).toBe(429);
});

test('sockets cut without a close handshake give their slots back', async () => {
  server = await startTestServer({ MAX_CONNECTIONS_PER_IP: '3' });
  for (let round = 0; round < 5; round++) {
    const batch = await Promise.all(
      [1, 2, 3].map((i) => connect(server.socketUrl, { id: `u${round}-${i}`, teamId: 'A' })),
    );
    for (const c of batch) c.ws.terminate();
    await eventually(() => server.app.hub.size === 0);
  }
  clients.push(await connect(server.socketUrl, { id: 'last', teamId: 'A' }));
});

/**
 * Security review, client IP behind proxies. The per-IP cap ignoring
 * X-Forwarded-For without TRUST_PROXY, and counting the forwarded address with it,
 * are in test/integration/socket-handshake.test.ts. This file checks the other
 * places the address shows: /api/connections and the logs.
 */
import { connect, type TestClient } from '../helpers/client';
import { api, startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

async function listedIp(): Promise<string> {
  const res = await api<{ connections: { ip: string }[] }>(server, 'GET', '/api/connections');
  expect(res.body.connections).toHaveLength(1);
  return res.body.connections[0]!.ip;
}

const spoofed = { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } };

test('without TRUST_PROXY a client cannot choose the address listed and logged', async () => {
  server = await startTestServer();
  clients.push(await connect(server.socketUrl, { id: 'u1', teamId: 'A' }, spoofed));
  expect(await listedIp()).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  expect(server.logs.join('')).not.toContain('203.0.113.7');
});

test('with TRUST_PROXY the first forwarded address is the client, in listings and logs', async () => {
  server = await startTestServer({ TRUST_PROXY: 'true' });
  clients.push(await connect(server.socketUrl, { id: 'u1', teamId: 'A' }, spoofed));
  expect(await listedIp()).toBe('203.0.113.7');
  const open = server.logs.find((l) => l.includes('socket open'));
  expect(JSON.parse(open!)).toMatchObject({ ip: '203.0.113.7' });
});

test('with TRUST_PROXY an empty X-Forwarded-For falls back to the socket address', async () => {
  server = await startTestServer({ TRUST_PROXY: 'true' });
  clients.push(
    await connect(
      server.socketUrl,
      { id: 'u1', teamId: 'A' },
      { headers: { 'x-forwarded-for': ' , ' } },
    ),
  );
  expect(await listedIp()).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
});

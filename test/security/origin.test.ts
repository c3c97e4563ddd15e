/**
 * Security review, origin allowlist (ALLOWED_ORIGINS). A listed origin connecting
 * and an unlisted one getting 403 are in test/integration/socket-handshake.test.ts;
 * this file adds the near-misses an attacker registers (suffix domains, other
 * schemes and ports, `null`) and checks that a refused origin leaves no trace.
 */
import { connect, refusedHandshake, socketUrl, type TestClient } from '../helpers/client';
import { api, startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
const clients: TestClient[] = [];
const params = { id: 'u1', name: 'a', teamId: 'A' };

beforeAll(async () => {
  server = await startTestServer({ ALLOWED_ORIGINS: 'https://app.example.com' });
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

test.each([
  'https://app.example.com.evil.com',
  'https://evilapp.example.com',
  'https://evil.com/https://app.example.com',
  'http://app.example.com',
  'https://app.example.com:8443',
  'wss://app.example.com',
  'null',
  'https://app.example.co',
])('origin %j gets 403 and leaves no connection or team behind', async (origin) => {
  const { status, body } = await refusedHandshake(socketUrl(server.socketUrl, params), {
    origin,
  });
  expect(status).toBe(403);
  expect(JSON.parse(body)).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
  expect(server.app.hub.size).toBe(0);
  const teams = await api<{ teams: unknown[] }>(server, 'GET', '/api/teams');
  expect(teams.body.teams).toEqual([]);
});

test('without an Origin header (a non-browser client) the socket opens, as documented', async () => {
  const client = await connect(server.socketUrl, params);
  clients.push(client);
  expect(client.welcome['teamId']).toBe('A');
});

/**
 * Security review, client IP behind proxies. The per-IP cap ignoring
 * X-Forwarded-For without TRUST_PROXY, and counting the forwarded address with it,
 * are in test/integration/socket-handshake.test.ts. This file checks the other
 * places the address shows: /api/connections and the logs.
 */
import { api, type TestServer } from '../helpers/server';
import { serverPerTest } from '../helpers/server-per-test';

let server: TestServer;
const servers = serverPerTest();

async function listedIp(): Promise<string> {
  const res = await api<{ connections: { ip: string }[] }>(server, 'GET', '/api/connections');
  expect(res.body.connections).toHaveLength(1);
  return res.body.connections[0]!.ip;
}

const spoofed = { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } };

test('without TRUST_PROXY a client cannot choose the address listed and logged', async () => {
  server = await servers.start();
  await servers.open('u1', {}, spoofed);
  expect(await listedIp()).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  expect(server.logs.join('')).not.toContain('203.0.113.7');
});

test('with TRUST_PROXY the first forwarded address is the client, in listings and logs', async () => {
  server = await servers.start({ TRUST_PROXY: 'true' });
  await servers.open('u1', {}, spoofed);
  expect(await listedIp()).toBe('203.0.113.7');
  const open = server.logs.find((l) => l.includes('socket open'));
  expect(JSON.parse(open!)).toMatchObject({ ip: '203.0.113.7' });
});

test('with TRUST_PROXY an empty X-Forwarded-For falls back to the socket address', async () => {
  server = await servers.start({ TRUST_PROXY: 'true' });
  await servers.open('u1', {}, { headers: { 'x-forwarded-for': ' , ' } });
  expect(await listedIp()).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
});

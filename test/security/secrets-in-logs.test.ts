/**
 * Security review, secrets in logs. Query-string secrets on every REST route, a
 * socket token on an accepted and a 400-refused handshake, a rejected token with
 * AUTH_SECRET and the admin token are in test/integration/admin-auth.test.ts and
 * socket-handshake.test.ts. This file adds the refusals those do not reach (403,
 * 429, 503 while draining), the AUTH_SECRET itself, and passwords in REDIS_URL and
 * MSSQL_URL while their servers are unreachable (when drivers log errors).
 */
import { SignJWT } from 'jose';
import { connect, refusedHandshake, socketUrl, type TestClient } from '../helpers/client';
import { freePort } from '../helpers/redis-server';
import { startTestServer } from '../helpers/server';

const SECRET = 'the-auth-secret-that-must-never-be-logged';
const PASSWORD = 'Pa55-never-in-logs';

const token = (sub: string) =>
  new SignJWT({ sub, team: 'A' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

test('tokens of sockets refused with 403, 429 and 503, and AUTH_SECRET, never reach the logs', async () => {
  const server = await startTestServer({
    AUTH_SECRET: SECRET,
    ALLOWED_ORIGINS: 'https://ok.example',
    MAX_CONNECTIONS_PER_IP: '1',
    DRAIN_DELAY_MS: '1000',
  });
  const clients: TestClient[] = [];
  const used: string[] = [];
  try {
    const t1 = await token('u1');
    used.push(t1);
    clients.push(await connect(server.socketUrl, { id: 'u1', teamId: 'A', token: t1 }));

    const t2 = await token('u2');
    used.push(t2);
    const url2 = socketUrl(server.socketUrl, { id: 'u2', teamId: 'A', token: t2 });
    expect((await refusedHandshake(url2, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await refusedHandshake(url2)).status).toBe(429);

    const closing = server.close();
    expect((await refusedHandshake(url2)).status).toBe(503);
    await closing;

    const text = server.logs.join('');
    expect(text).toContain('handshake refused');
    for (const t of used) {
      expect(text).not.toContain(t);
      // The signature alone is the secret part.
      expect(text).not.toContain(t.split('.')[2]);
    }
    expect(text).not.toContain(SECRET);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
});

test.each([
  {
    variable: 'REDIS_URL',
    backend: 'Redis',
    named: 'redis',
    url: (port: number) => `redis://:${PASSWORD}@127.0.0.1:${port}`,
  },
  {
    variable: 'MSSQL_URL',
    backend: 'SQL Server',
    named: 'sql server',
    url: (port: number) =>
      `Server=127.0.0.1,${port};Database=switchboard;User Id=sa;Password=${PASSWORD};Encrypt=false`,
  },
])(
  'a password in $variable never reaches the logs while $backend is unreachable',
  async ({ variable, named, url }) => {
    const server = await startTestServer({ [variable]: url(await freePort()) });
    try {
      expect(server.logs.join('')).toContain(named);
      expect(server.logs.join('')).not.toContain(PASSWORD);
    } finally {
      await server.close();
    }
    expect(server.logs.join('')).not.toContain(PASSWORD);
  },
  30_000,
);

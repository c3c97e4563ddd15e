import { request } from 'node:http';
import { SignJWT } from 'jose';
import { connect, refusedHandshake, socketUrl } from '../helpers/client';
import { type TestServer } from '../helpers/server';
import { serverPerTest } from '../helpers/server-per-test';

const SECRET = 'a-test-secret-that-is-at-least-32-chars-long';
const key = new TextEncoder().encode(SECRET);

function token(claims: Record<string, unknown>, expiresIn: string | number = '5m', alg = 'HS256') {
  return new SignJWT(claims).setProtectedHeader({ alg }).setExpirationTime(expiresIn).sign(key);
}

let server: TestServer;
const servers = serverPerTest();

function parseError(body: string): { code: string; message: string } {
  return (JSON.parse(body) as { error: { code: string; message: string } }).error;
}

describe('params', () => {
  beforeEach(async () => {
    server = await servers.start();
  });

  const bad: [string, string][] = [
    ['missing id', 'name=a&teamId=A'],
    ['missing name', 'id=a&teamId=A'],
    ['missing teamId', 'id=a&name=a'],
    ['id with a space', 'id=a%20b&name=a&teamId=A'],
    ['id too long', `id=${'x'.repeat(65)}&name=a&teamId=A`],
    ['teamId with a slash', 'id=a&name=a&teamId=A%2FB'],
    ['name too long', `id=a&name=${'n'.repeat(101)}&teamId=A`],
    ['name with a control character', 'id=a&name=a%07b&teamId=A'],
    ['since not a number', 'id=a&name=a&teamId=A&since=x'],
    ['id given twice', 'id=a&id=b&name=a&teamId=A'],
  ];

  test.each(bad)('%s: 400 before the upgrade, with a JSON error', async (_name, query) => {
    const { status, body } = await refusedHandshake(`${server.socketUrl}?${query}`);
    expect(status).toBe(400);
    expect(parseError(body).code).toBe('bad_request');
  });

  test('ids of the allowed charset and a Chinese name are accepted', async () => {
    const client = await connect(server.socketUrl, {
      id: 'a.b:c@d-e_f',
      name: '张三',
      teamId: 'T-1',
    });
    servers.keep(client);
    expect(client.welcome['user']).toEqual({ id: 'a.b:c@d-e_f', name: '张三' });
  });

  test('any other path gets no WebSocket', async () => {
    const { status } = await refusedHandshake(
      `ws://127.0.0.1:${server.port}/other?id=a&name=a&teamId=A`,
    );
    expect([400, 404]).toContain(status);
  });

  test('a plain HTTP GET of /socket is not an upgrade: 426 with a JSON error', async () => {
    const res = await fetch(`${server.http}/socket?id=a&name=a&teamId=A`);
    expect(res.status).toBe(426);
    expect(await res.json()).toEqual({
      error: { code: 'upgrade_required', message: expect.any(String) },
    });
  });
});

describe('JWT auth (AUTH_SECRET set)', () => {
  beforeEach(async () => {
    server = await servers.start({ AUTH_SECRET: SECRET });
  });

  const url = (t?: string) =>
    socketUrl(server.socketUrl, {
      id: 'u1',
      name: 'Ann',
      teamId: 'A',
      ...(t === undefined ? {} : { token: t }),
    });

  test('a valid token connects', async () => {
    const client = await connect(server.socketUrl, {
      id: 'u1',
      name: 'Ann',
      teamId: 'A',
      token: await token({ sub: 'u1', team: 'A', name: 'Ann' }),
    });
    servers.keep(client);
    expect(client.welcome['user']).toEqual({ id: 'u1', name: 'Ann' });
  });

  test.each([
    ['no token', async () => undefined],
    ['garbage', async () => 'not-a-jwt'],
    ['expired', async () => token({ sub: 'u1', team: 'A' }, Math.floor(Date.now() / 1000) - 10)],
    ['wrong sub', async () => token({ sub: 'u2', team: 'A' })],
    ['wrong team', async () => token({ sub: 'u1', team: 'B' })],
    ['wrong name', async () => token({ sub: 'u1', team: 'A', name: 'Eve' })],
    ['HS512 instead of HS256', async () => token({ sub: 'u1', team: 'A' }, '5m', 'HS512')],
    [
      'signed with another secret',
      async () =>
        new SignJWT({ sub: 'u1', team: 'A' })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('another-secret-that-is-32-chars-long!!')),
    ],
  ])('%s: 401', async (_name, make) => {
    const { status, body } = await refusedHandshake(url(await make()));
    expect(status).toBe(401);
    expect(parseError(body).code).toBe('unauthorized');
  });

  test('the token never reaches the logs', async () => {
    const t = await token({ sub: 'u1', team: 'A' });
    servers.keep(await connect(server.socketUrl, { id: 'u1', name: 'Ann', teamId: 'A', token: t }));
    await refusedHandshake(url(`${t}x`));
    expect(server.logs.join('')).not.toContain(t.slice(-20));
  });

  test('a socket whose token expires is closed with 1008', async () => {
    await server.close();
    // Server and client share this process: a beat drops a connection whose pong it has
    // not read by the next beat, so a 100 ms beat lost sockets (1006) to loop stalls.
    server = await servers.start({ AUTH_SECRET: SECRET, HEARTBEAT_MS: '1000' });
    // Whole seconds, at least 3 s ahead: `floor(now) + 1` could be a few ms away and
    // expire before the handshake, which then got 401 instead of an open socket.
    const t = await token({ sub: 'u1', team: 'A' }, Math.ceil(Date.now() / 1000) + 3);
    const client = await connect(server.socketUrl, {
      id: 'u1',
      name: 'Ann',
      teamId: 'A',
      token: t,
    });
    servers.keep(client);
    expect((await client.waitClose(15_000)).code).toBe(1008);
  });
});

describe('origin allowlist', () => {
  beforeEach(async () => {
    server = await servers.start({
      ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com',
    });
  });
  const params = { id: 'u1', name: 'a', teamId: 'A' };

  test('a listed origin connects', async () => {
    servers.keep(await connect(server.socketUrl, params, { origin: 'https://admin.example.com' }));
  });

  test('another origin gets 403', async () => {
    const { status, body } = await refusedHandshake(socketUrl(server.socketUrl, params), {
      origin: 'https://evil.example.com',
    });
    expect(status).toBe(403);
    expect(parseError(body).code).toBe('forbidden');
  });
});

describe('connection caps', () => {
  test('more than MAX_CONNECTIONS_PER_IP from one address gets 429, and a slot frees on close', async () => {
    server = await servers.start({ MAX_CONNECTIONS_PER_IP: '2' });
    const a = await servers.open('u1');
    await servers.open('u2');
    const { status, body } = await refusedHandshake(
      socketUrl(server.socketUrl, { id: 'u3', teamId: 'A' }),
    );
    expect(status).toBe(429);
    expect(parseError(body).code).toBe('rate_limited');
    await a.close();
    const { eventually } = await import('../helpers/eventually');
    await eventually(() => servers.open('u3'));
  });

  test.each<{ what: string; env: Record<string, string>; opened: string[]; refused: string }>([
    {
      what: 'X-Forwarded-For is ignored unless TRUST_PROXY is set',
      env: { MAX_CONNECTIONS_PER_IP: '1' },
      opened: ['10.0.0.1'],
      refused: '10.0.0.2',
    },
    {
      what: 'with TRUST_PROXY, the cap counts the forwarded address',
      env: { MAX_CONNECTIONS_PER_IP: '1', TRUST_PROXY: 'true' },
      opened: ['10.0.0.1', '10.0.0.2'],
      refused: '10.0.0.1, 10.9.9.9',
    },
  ])('$what', async ({ env, opened, refused }) => {
    server = await servers.start(env);
    for (const [i, address] of opened.entries())
      await servers.open(`u${i + 1}`, {}, { headers: { 'x-forwarded-for': address } });
    const { status } = await refusedHandshake(
      socketUrl(server.socketUrl, { id: 'late', teamId: 'A' }),
      { headers: { 'x-forwarded-for': refused } },
    );
    expect(status).toBe(429);
  });

  test('MAX_CONNECTIONS caps the node: 503', async () => {
    server = await servers.start({ MAX_CONNECTIONS: '1' });
    await servers.open('u1');
    const { status } = await refusedHandshake(
      socketUrl(server.socketUrl, { id: 'u2', teamId: 'B' }),
    );
    expect(status).toBe(503);
  });
});

describe('raw upgrade requests', () => {
  test('a refused upgrade is a plain HTTP response, never an open socket', async () => {
    server = await servers.start();
    const res = await new Promise<{ status: number; type: string | undefined }>(
      (resolve, reject) => {
        const req = request(`${server.http}/socket?id=a`, {
          headers: {
            Connection: 'Upgrade',
            Upgrade: 'websocket',
            'Sec-WebSocket-Version': '13',
            'Sec-WebSocket-Key': Buffer.from('0123456789abcdef').toString('base64'),
          },
        });
        req.on('response', (r) =>
          resolve({ status: r.statusCode ?? 0, type: r.headers['content-type'] }),
        );
        req.on('upgrade', () => reject(new Error('upgraded')));
        req.on('error', reject);
        req.end();
      },
    );
    expect(res).toEqual({ status: 400, type: 'application/json' });
  });
});

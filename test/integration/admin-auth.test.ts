/**
 * docs/PROTOCOL.md §8: the open probes, the admin token on every other route, unknown
 * routes, and that neither query-string secrets nor the admin token reach the logs.
 */
import { connect, refusedHandshake, socketUrl, type TestClient } from '../helpers/client';
import { ADMIN_TOKEN, api, startTestServer, type TestServer } from '../helpers/server';

interface ErrorBody {
  error: { code: string; message: string };
}

let server: TestServer;
let clients: TestClient[] = [];

beforeEach(async () => {
  server = await startTestServer();
  clients = [];
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

function expectUnauthorized(res: { status: number; body: unknown; headers: Headers }): void {
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
}

/** Every protected route, with a body where it takes one (rows all have 3 cells for it.each). */
const PROTECTED: [string, string, unknown][] = [
  ['GET', '/api/teams', undefined],
  ['POST', '/api/teams', { id: 'sneaky', name: 'Sneaky' }],
  ['GET', '/api/teams/team-a', undefined],
  ['GET', '/api/connections', undefined],
  ['GET', '/api/connections?teamId=team-a&limit=10', undefined],
  ['DELETE', '/api/connections/some-conn', undefined],
  ['GET', '/api/teams/team-a/messages', undefined],
  ['POST', '/api/teams/team-a/messages', { data: 'sneaky' }],
  ['POST', '/api/broadcast', { data: 'sneaky' }],
  ['GET', '/api/dead-letters', undefined],
  ['DELETE', '/api/dead-letters/1', undefined],
  ['GET', '/api/bans', undefined],
  ['POST', '/api/bans', { userId: 'sneaky' }],
  ['DELETE', '/api/bans/sneaky', undefined],
  ['GET', '/metrics', undefined],
  ['GET', '/api/does-not-exist', undefined],
];

/** Ways to get the credentials wrong: [label, headers or null for none]. */
const BAD_CREDENTIALS: [string, string | null][] = [
  ['no Authorization header', null],
  ['a wrong token', 'Bearer wrong-token-0123456789'],
  ['a wrong token of the same length', `Bearer ${'x'.repeat(ADMIN_TOKEN.length)}`],
  ['the token with a suffix', `Bearer ${ADMIN_TOKEN}x`],
  ['a prefix of the token', `Bearer ${ADMIN_TOKEN.slice(0, -1)}`],
  ['the token and more words', `Bearer ${ADMIN_TOKEN} extra`],
  ['the bare token without a scheme', ADMIN_TOKEN],
  ['the Basic scheme', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`],
  ['Bearer without a token', 'Bearer'],
  ['Bearer and spaces', 'Bearer   '],
  ['an empty header', ''],
];

describe('probes', () => {
  it('GET /api/health answers 200 {status: ok} without a token', async () => {
    const res = await api(server, 'GET', '/api/health', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /api/ready answers 200 without a token, with each backend up or disabled', async () => {
    const res = await api(server, 'GET', '/api/ready', { token: null });
    expect(res.status).toBe(200);
    // The same suite runs on both engines: Redis is checked only when it is the engine.
    const redis = server.config.redis === undefined ? 'disabled' : 'up';
    expect(res.body).toEqual({ status: 'ok', checks: { redis, db: 'disabled' } });
  });

  it('the probes also answer with a wrong or a right token', async () => {
    for (const token of ['wrong-token-0123456789', ADMIN_TOKEN]) {
      expect((await api(server, 'GET', '/api/health', { token })).body).toEqual({ status: 'ok' });
      expect((await api(server, 'GET', '/api/ready', { token })).status).toBe(200);
    }
  });
});

describe('admin token', () => {
  describe.each(BAD_CREDENTIALS)('with %s', (_label, authorization) => {
    it.each(PROTECTED)('%s %s answers 401 unauthorized', async (method, path, body) => {
      const res = await api<ErrorBody>(server, method, path, {
        token: null,
        ...(authorization === null ? {} : { headers: { authorization } }),
        ...(body === undefined ? {} : { body }),
      });
      expectUnauthorized(res);
    });
  });

  it('a token in the query string is not accepted', async () => {
    const q = encodeURIComponent(ADMIN_TOKEN);
    expectUnauthorized(await api(server, 'GET', `/api/teams?token=${q}`, { token: null }));
    expectUnauthorized(await api(server, 'GET', `/api/teams?access_token=${q}`, { token: null }));
  });

  it('the right token passes on every route', async () => {
    const created = await api(server, 'POST', '/api/teams', {
      body: { id: 'team-a', name: 'Team A' },
    });
    expect(created.status).toBe(201);
    const client = await connect(server.socketUrl, { id: 'u1', teamId: 'team-a' });
    clients.push(client);

    expect((await api(server, 'GET', '/api/teams')).status).toBe(200);
    expect((await api(server, 'GET', '/api/teams/team-a')).status).toBe(200);
    expect((await api(server, 'GET', '/api/connections')).status).toBe(200);
    expect((await api(server, 'GET', '/api/connections?teamId=team-a&limit=10')).status).toBe(200);
    expect(
      (await api(server, 'POST', '/api/teams/team-a/messages', { body: { data: 'hi' } })).status,
    ).toBe(201);
    expect((await client.next('message'))['data']).toBe('hi');
    expect((await api(server, 'GET', '/api/teams/team-a/messages')).status).toBe(200);
    expect((await api(server, 'POST', '/api/broadcast', { body: { data: 'all' } })).status).toBe(
      202,
    );
    expect((await client.next('message'))['data']).toBe('all');
    const metrics = await api(server, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('www-authenticate')).toBeNull();
    const kick = await api(
      server,
      'DELETE',
      `/api/connections/${String(client.welcome['connId'])}`,
    );
    expect(kick.status).toBe(204);
    expect((await client.waitClose()).code).toBe(4000);
  });

  it('accepts the Bearer scheme in any case (RFC 7235)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await api(server, 'GET', '/api/teams', {
        token: null,
        headers: { authorization: `${scheme} ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
    }
  });

  it('an unauthorized request changes nothing and delivers nothing', async () => {
    const client = await connect(server.socketUrl, { id: 'u1', teamId: 'team-a' });
    clients.push(client);
    const noAuth = { token: null };
    expectUnauthorized(
      await api(server, 'POST', '/api/teams', { ...noAuth, body: { id: 'sneaky', name: 'S' } }),
    );
    expectUnauthorized(
      await api(server, 'POST', '/api/teams/team-a/messages', { ...noAuth, body: { data: 'x' } }),
    );
    expectUnauthorized(
      await api(server, 'POST', '/api/broadcast', { ...noAuth, body: { data: 1 } }),
    );
    expectUnauthorized(
      await api(server, 'DELETE', `/api/connections/${String(client.welcome['connId'])}`, noAuth),
    );

    await client.sync();
    expect(client.take('message')).toEqual([]);
    expect(client.closed).toBeUndefined();
    const teams = await api<{ teams: { id: string }[] }>(server, 'GET', '/api/teams');
    expect(teams.body.teams.map((t) => t.id)).toEqual(['team-a']);
    const history = await api(server, 'GET', '/api/teams/team-a/messages');
    expect(history.body).toEqual({ messages: [], more: false });
  });

  it('checks the token before the body: an unauthorized oversized or broken body is 401', async () => {
    expectUnauthorized(
      await api(server, 'POST', '/api/teams', { token: null, rawBody: 'not json' }),
    );
    expectUnauthorized(
      await api(server, 'POST', '/api/teams', {
        token: null,
        body: { id: 'x', name: 'x', pad: 'x'.repeat(server.config.http.bodyLimitBytes + 1) },
      }),
    );
  });

  // Routing is case-insensitive and ignores a trailing slash, so the token check must
  // cover every spelling that reaches a protected route, not just the canonical one.
  it.each([
    '/API/teams',
    '/Api/Teams',
    '/api/teams/',
    '/API/connections',
    '/metrics/',
    '/Metrics',
    '/METRICS',
    '/API/teams/team-a/messages',
  ])('GET %s without a token does not serve the protected route', async (path) => {
    const created = await api(server, 'POST', '/api/teams', {
      body: { id: 'team-a', name: 'Team A' },
    });
    expect(created.status).toBe(201);
    const published = await api(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'x' },
    });
    expect(published.status).toBe(201);
    const res = await api<ErrorBody>(server, 'GET', path, { token: null });
    expect([401, 404]).toContain(res.status);
    expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('DELETE /API/connections/:connId without a token does not kick anyone', async () => {
    const client = await connect(server.socketUrl, { id: 'u1', teamId: 'team-a' });
    clients.push(client);
    const res = await api(
      server,
      'DELETE',
      `/API/connections/${String(client.welcome['connId'])}`,
      {
        token: null,
      },
    );
    expect([401, 404]).toContain(res.status);
    await client.sync();
    expect(client.closed).toBeUndefined();
  });

  it('POST /API/teams without a token does not create a team', async () => {
    const res = await api(server, 'POST', '/API/teams', {
      token: null,
      body: { id: 'sneaky', name: 'Sneaky' },
    });
    expect([401, 404]).toContain(res.status);
    const teams = await api<{ teams: unknown[] }>(server, 'GET', '/api/teams');
    expect(teams.body.teams).toEqual([]);
  });
});

describe('unknown routes', () => {
  it.each(['/api/does-not-exist', '/api/teams/team-a/nothing-here', '/api/v2/teams'])(
    'GET %s with the token answers 404 JSON not_found',
    async (path) => {
      const res = await api<ErrorBody>(server, 'GET', path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    },
  );
});

describe('logs', () => {
  const SECRET = 'secret-in-query';

  function logText(): string {
    return server.logs.join('');
  }

  it(`never contain a query-string secret (${SECRET})`, async () => {
    const q = `token=${SECRET}&other=1`;
    await api(server, 'POST', `/api/teams?${q}`, { body: { id: 'team-a', name: 'A' } });
    const paths = [
      `/api/health?${q}`,
      `/api/ready?${q}`,
      `/api/teams?${q}`,
      `/api/teams/team-a?${q}`,
      `/api/teams/ghost?${q}`,
      `/api/connections?${q}`,
      `/api/connections?limit=0&${q}`,
      `/api/teams/team-a/messages?${q}`,
      `/metrics?${q}`,
      `/api/nope?${q}`,
      `/nope?${q}`,
    ];
    for (const path of paths) {
      await api(server, 'GET', path);
      await api(server, 'GET', path, { token: null });
    }
    await api(server, 'POST', `/api/teams?${q}`, { rawBody: 'not json' });
    await api(server, 'POST', `/api/teams/team-a/messages?${q}`, { body: { data: 1 } });
    await api(server, 'POST', `/api/broadcast?${q}`, { body: {} });
    await api(server, 'DELETE', `/api/connections/nope?${q}`);

    // Sockets carry tokens in their URL: an accepted one and refused ones.
    const client = await connect(server.socketUrl, { id: 'u1', teamId: 'team-a', token: SECRET });
    clients.push(client);
    const refused = await refusedHandshake(
      socketUrl(server.socketUrl, { id: 'bad id!', teamId: 'team-a', token: SECRET }),
    );
    expect(refused.status).toBe(400);
    await client.close();

    const text = logText();
    expect(text).toContain('"path":"/api/teams"');
    expect(text).toContain('handshake refused');
    expect(text).not.toContain(SECRET);
  });

  it('never contain a rejected socket token when AUTH_SECRET is set', async () => {
    const authed = await startTestServer({ AUTH_SECRET: 'a'.repeat(40) });
    try {
      const url = socketUrl(authed.socketUrl, { id: 'u1', teamId: 'team-a', token: SECRET });
      expect((await refusedHandshake(url)).status).toBe(401);
      const jwtLike = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.${SECRET}`;
      const url2 = socketUrl(authed.socketUrl, { id: 'u1', teamId: 'team-a', token: jwtLike });
      expect((await refusedHandshake(url2)).status).toBe(401);
      const text = authed.logs.join('');
      expect(text).toContain('handshake refused');
      expect(text).not.toContain(SECRET);
    } finally {
      await authed.close();
    }
  });

  it('never contain the admin token', async () => {
    await api(server, 'GET', '/api/teams');
    await api(server, 'POST', '/api/teams', { body: { id: 'team-a', name: 'A' } });
    await api(server, 'GET', '/api/teams', { token: `${ADMIN_TOKEN}-wrong` });
    await api(server, 'GET', '/metrics', {
      headers: { authorization: `Basic ${ADMIN_TOKEN}` },
      token: null,
    });
    await api(server, 'GET', `/api/teams?token=${ADMIN_TOKEN}`, { token: null });
    await api(server, 'GET', `/api/nope?token=${ADMIN_TOKEN}`);
    await api(server, 'POST', '/api/teams', { rawBody: 'not json' });
    const client = await connect(server.socketUrl, { id: 'u1', teamId: 'team-a' });
    clients.push(client);
    await api(server, 'DELETE', `/api/connections/${String(client.welcome['connId'])}`);
    await client.waitClose();

    expect(server.logs.length).toBeGreaterThan(0);
    for (const line of server.logs) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(logText()).not.toContain(ADMIN_TOKEN);
  });
});

import { connect, refusedHandshake, socketUrl, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { api, startTestServer, type TestServer } from '../helpers/server';

/** Bans through the admin API, against a real server (on both engines: see jest.config.js). */
describe('admin API: bans', () => {
  let server: TestServer;
  const clients: TestClient[] = [];

  async function open(node: TestServer, id: string, teamId: string): Promise<TestClient> {
    const client = await connect(node.socketUrl, { id, teamId });
    clients.push(client);
    return client;
  }

  const refused = (node: TestServer, id: string, teamId: string) =>
    refusedHandshake(socketUrl(node.socketUrl, { id, teamId }));

  beforeEach(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_S: '0' });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  test('POST answers 201 with the ban; GET lists it; DELETE lifts it once', async () => {
    const created = await api(server, 'POST', '/api/bans', {
      body: { userId: 'mallory', teamId: 'A', seconds: 600, reason: 'spam 刷屏' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      userId: 'mallory',
      teamId: 'A',
      reason: 'spam 刷屏',
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    const everywhere = await api(server, 'POST', '/api/bans', { body: { userId: 'mallory' } });
    expect(everywhere.status).toBe(201);
    const body = everywhere.body as { teamId: unknown; createdAt: string; expiresAt: string };
    expect(body.teamId).toBeNull();
    // `seconds` defaults to an hour.
    expect(Date.parse(body.expiresAt) - Date.parse(body.createdAt)).toBe(3600_000);

    const listed = await api(server, 'GET', '/api/bans');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ bans: [everywhere.body, created.body] });

    expect((await api(server, 'DELETE', '/api/bans/mallory?teamId=A')).status).toBe(204);
    const again = await api(server, 'DELETE', '/api/bans/mallory?teamId=A');
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    expect((await api(server, 'DELETE', '/api/bans/mallory')).status).toBe(204);
    expect((await api(server, 'GET', '/api/bans')).body).toEqual({ bans: [] });
  });

  test.each([
    [{}, 'userId'],
    [{ userId: 'bad id!' }, 'userId'],
    [{ userId: 'u', teamId: '' }, 'teamId'],
    [{ userId: 'u', seconds: -1 }, 'seconds'],
    [{ userId: 'u', seconds: 1.5 }, 'seconds'],
    [{ userId: 'u', seconds: '60' }, 'seconds'],
    [{ userId: 'u', reason: 'x'.repeat(201) }, 'reason'],
  ])('POST %j is 400 naming %s', async (body, field) => {
    const res = await api(server, 'POST', '/api/bans', { body });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(field);
  });

  test('the routes need the admin token', async () => {
    expect((await api(server, 'GET', '/api/bans', { token: null })).status).toBe(401);
    const post = await api(server, 'POST', '/api/bans', { token: null, body: { userId: 'u' } });
    expect(post.status).toBe(401);
    expect((await api(server, 'DELETE', '/api/bans/u', { token: null })).status).toBe(401);
  });

  test('a team ban closes the user in that team with 4003 and refuses them with 403 banned', async () => {
    const inA = await open(server, 'mallory', 'A');
    const alsoInA = await open(server, 'mallory', 'A');
    const inB = await open(server, 'mallory', 'B');
    const other = await open(server, 'alice', 'A');

    expect(
      (await api(server, 'POST', '/api/bans', { body: { userId: 'mallory', teamId: 'A' } })).status,
    ).toBe(201);
    expect(await inA.waitClose()).toEqual({ code: 4003, reason: 'banned' });
    expect((await alsoInA.waitClose()).code).toBe(4003);

    const answer = await refused(server, 'mallory', 'A');
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: 'banned', message: expect.any(String) },
    });
    // Other teams and other users go on.
    inB.send({ type: 'ping' });
    await inB.next('pong');
    other.send({ type: 'ping' });
    await other.next('pong');
    await open(server, 'mallory', 'B');

    expect((await api(server, 'DELETE', '/api/bans/mallory?teamId=A')).status).toBe(204);
    await open(server, 'mallory', 'A');
  });

  test('a ban without a team closes the user everywhere', async () => {
    const inA = await open(server, 'mallory', 'A');
    const inB = await open(server, 'mallory', 'B');
    await api(server, 'POST', '/api/bans', { body: { userId: 'mallory', seconds: 0 } });
    expect((await inA.waitClose()).code).toBe(4003);
    expect((await inB.waitClose()).code).toBe(4003);
    expect((await refused(server, 'mallory', 'C')).status).toBe(403);
    const listed = await api<{ bans: { expiresAt: unknown }[] }>(server, 'GET', '/api/bans');
    expect(listed.body.bans[0]!.expiresAt).toBeNull();
  });

  test('a ban expires: handshakes are accepted again and it leaves the list', async () => {
    // 3 s, not 1: the refused handshake must come before it expires, on a loaded machine too.
    await api(server, 'POST', '/api/bans', { body: { userId: 'brief', teamId: 'A', seconds: 3 } });
    expect((await refused(server, 'brief', 'A')).status).toBe(403);
    await eventually(async () => {
      const client = await connect(server.socketUrl, { id: 'brief', teamId: 'A' });
      clients.push(client);
    }, 15_000);
    expect((await api(server, 'GET', '/api/bans')).body).toEqual({ bans: [] });
  });

  test('a close with 4003 counts in the metrics', async () => {
    const victim = await open(server, 'mallory', 'A');
    await api(server, 'POST', '/api/bans', { body: { userId: 'mallory', teamId: 'A' } });
    await victim.waitClose();
    await refused(server, 'mallory', 'A');
    await eventually(async () => {
      const text = (await api<string>(server, 'GET', '/metrics')).body;
      expect(text).toMatch(/switchboard_bans_total 1\b/);
      expect(text).toMatch(/switchboard_connections_closed_total\{code="4003"\} 1\b/);
      expect(text).toMatch(/switchboard_handshakes_rejected_total\{status="403"\} 1\b/);
    });
  });

  // Only in the "redis" jest project: a second node on the same Redis and key prefix.
  const onRedis = (globalThis as { __sbUseRedis?: boolean }).__sbUseRedis === true;
  (onRedis ? describe : describe.skip)('across two nodes', () => {
    let n2: TestServer;

    beforeEach(async () => {
      n2 = await startTestServer({
        REDIS_URL: process.env['SB_TEST_REDIS_URL'] ?? '',
        REDIS_KEY_PREFIX: server.config.redis?.keyPrefix ?? '',
        NODE_ID: 'test-node-2',
        RATE_LIMIT_PER_S: '0',
      });
    });

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await n2.close();
    });

    test('a ban on one node closes the user on the other and is refused there', async () => {
      const there = await open(n2, 'mallory', 'A');
      const here = await open(server, 'mallory', 'A');
      const bystander = await open(n2, 'alice', 'A');
      await api(server, 'POST', '/api/bans', { body: { userId: 'mallory', teamId: 'A' } });
      expect((await there.waitClose()).code).toBe(4003);
      expect((await here.waitClose()).code).toBe(4003);
      expect((await refused(n2, 'mallory', 'A')).status).toBe(403);
      bystander.send({ type: 'ping' });
      await bystander.next('pong');
      // Both nodes list it, and a lift on the other node frees the user on both.
      expect(((await api(n2, 'GET', '/api/bans')).body as { bans: unknown[] }).bans).toHaveLength(
        1,
      );
      expect((await api(n2, 'DELETE', '/api/bans/mallory?teamId=A')).status).toBe(204);
      await eventually(async () => {
        clients.push(await connect(server.socketUrl, { id: 'mallory', teamId: 'A' }));
      });
      clients.push(await connect(n2.socketUrl, { id: 'mallory', teamId: 'A' }));
    });

    test('a node started after the ban refuses the user too', async () => {
      await api(server, 'POST', '/api/bans', { body: { userId: 'mallory', seconds: 0 } });
      const n3 = await startTestServer({
        REDIS_URL: process.env['SB_TEST_REDIS_URL'] ?? '',
        REDIS_KEY_PREFIX: server.config.redis?.keyPrefix ?? '',
        NODE_ID: 'test-node-3',
      });
      try {
        expect((await refused(n3, 'mallory', 'Z')).status).toBe(403);
      } finally {
        await n3.close();
      }
    });
  });
});

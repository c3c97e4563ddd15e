/**
 * The admin REST API (docs/PROTOCOL.md §8) against a real server, with real WebSocket
 * clients wherever a route involves connections. Auth, probes and logging are in
 * admin-auth.test.ts.
 */
import type { TeamView } from '../../routes/teams';
import type { MessageView } from '../../services/frames';
import type { Ack, ConnectionInfo, Member } from '../../services/types';
import { connect, type ConnectParams, type Frame, type TestClient } from '../helpers/client';
import { api, startTestServer, type TestServer } from '../helpers/server';

interface ErrorBody {
  error: { code: string; message: string };
}

interface TeamDetail extends TeamView {
  members: Member[];
}

interface ConnectionPage {
  connections: ConnectionInfo[];
  next: string | null;
}

interface MessagePage {
  messages: MessageView[];
  more: boolean;
}

const BODY_LIMIT = 2048;
const SYSTEM = { id: 'system', name: 'system' };

let server: TestServer;
let clients: TestClient[] = [];

beforeEach(async () => {
  server = await startTestServer({ BODY_LIMIT_BYTES: String(BODY_LIMIT) });
  clients = [];
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

async function open(params: ConnectParams): Promise<TestClient> {
  const client = await connect(server.socketUrl, params);
  clients.push(client);
  return client;
}

const connIdOf = (client: TestClient) => String(client.welcome['connId']);

const isIsoDate = (s: unknown) =>
  typeof s === 'string' && !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s;

async function listTeams(): Promise<TeamView[]> {
  const res = await api<{ teams: TeamView[] }>(server, 'GET', '/api/teams');
  expect(res.status).toBe(200);
  return res.body.teams;
}

async function createTeam(id: string, name: string): Promise<TeamView> {
  const res = await api<TeamView>(server, 'POST', '/api/teams', { body: { id, name } });
  expect(res.status).toBe(201);
  return res.body;
}

/** The next presence frame with this event, skipping others (e.g. earlier joins). */
async function nextPresence(client: TestClient, event: 'join' | 'leave'): Promise<Frame> {
  for (;;) {
    const frame = await client.next('presence');
    if (frame['event'] === event) return frame;
  }
}

/** Asserts that a client got no frame of `type`, after a round trip (no sleeping). */
async function expectNothing(client: TestClient, type: string): Promise<void> {
  await client.sync();
  expect(client.take(type)).toEqual([]);
}

function expectError(res: { status: number; body: unknown }, status: number, code: string): void {
  expect(res.status).toBe(status);
  const body = res.body as ErrorBody;
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe('POST /api/teams', () => {
  it('creates a team: 201 with id, name and createdAt, then lists it', async () => {
    const before = Date.now();
    const res = await api<TeamView>(server, 'POST', '/api/teams', {
      body: { id: 'team-a', name: 'Team A 团队' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body).toMatchObject({ id: 'team-a', name: 'Team A 团队' });
    expect(isIsoDate(res.body.createdAt)).toBe(true);
    expect(Date.parse(res.body.createdAt!)).toBeGreaterThanOrEqual(before - 1000);

    expect(await listTeams()).toEqual([
      {
        id: 'team-a',
        name: 'Team A 团队',
        online: 0,
        connections: 0,
        createdAt: res.body.createdAt,
      },
    ]);
  });

  it('accepts an id of exactly 64 allowed characters', async () => {
    const id = 'A-z_0.9:@'.padEnd(64, 'x');
    expect(id).toHaveLength(64);
    const team = await createTeam(id, 'edge');
    expect(team.id).toBe(id);
  });

  it('answers 409 conflict for a duplicate and keeps the first team', async () => {
    const first = await createTeam('team-a', 'First');
    const dup = await api(server, 'POST', '/api/teams', {
      body: { id: 'team-a', name: 'Second' },
    });
    expectError(dup, 409, 'conflict');
    expect(await listTeams()).toEqual([
      { id: 'team-a', name: 'First', online: 0, connections: 0, createdAt: first.createdAt },
    ]);
  });

  it('answers 409 for a team that already exists because someone connected to it', async () => {
    await open({ id: 'u1', teamId: 'live-team' });
    const dup = await api(server, 'POST', '/api/teams', {
      body: { id: 'live-team', name: 'Live' },
    });
    expectError(dup, 409, 'conflict');
  });

  const badBodies: [string, { body?: unknown; rawBody?: string }][] = [
    ['missing name', { body: { id: 'team-x' } }],
    ['missing id', { body: { name: 'Team X' } }],
    ['empty object', { body: {} }],
    ['id with a space', { body: { id: 'team x', name: 'Team X' } }],
    ['id with a slash', { body: { id: 'team/x', name: 'Team X' } }],
    ['id with non-ASCII', { body: { id: 'équipe', name: 'Team X' } }],
    ['empty id', { body: { id: '', name: 'Team X' } }],
    ['id of 65 characters', { body: { id: 'a'.repeat(65), name: 'Team X' } }],
    ['numeric id', { body: { id: 42, name: 'Team X' } }],
    ['empty name', { body: { id: 'team-x', name: '' } }],
    ['name with a control character', { body: { id: 'team-x', name: 'bad\u0007name' } }],
    ['name of 101 characters', { body: { id: 'team-x', name: 'n'.repeat(101) } }],
    ['a body that is not JSON', { rawBody: 'not json' }],
    ['a truncated JSON object', { rawBody: '{"id":"team-x","name":' }],
    ['an array body', { body: [{ id: 'team-x', name: 'Team X' }] }],
    ['a JSON string body', { rawBody: '"team-x"' }],
    ['a JSON null body', { rawBody: 'null' }],
    ['no body at all', {}],
  ];

  it.each(badBodies)('answers 400 bad_request for %s', async (_label, input) => {
    const res = await api(server, 'POST', '/api/teams', input);
    expectError(res, 400, 'bad_request');
  });

  it('changes nothing when a request fails', async () => {
    const kept = await createTeam('kept', 'Kept');
    for (const [, input] of badBodies) {
      const res = await api(server, 'POST', '/api/teams', input);
      expect(res.status).toBe(400);
    }
    const big = await api(server, 'POST', '/api/teams', {
      body: { id: 'big', name: 'Big', pad: 'x'.repeat(BODY_LIMIT * 2) },
    });
    expect(big.status).toBe(413);
    expect(await listTeams()).toEqual([
      { id: 'kept', name: 'Kept', online: 0, connections: 0, createdAt: kept.createdAt },
    ]);
    expectError(await api(server, 'GET', '/api/teams/big'), 404, 'not_found');
  });

  it('answers 413 payload_too_large for a body over BODY_LIMIT_BYTES', async () => {
    const res = await api(server, 'POST', '/api/teams', {
      body: { id: 'big', name: 'Big', pad: 'x'.repeat(BODY_LIMIT + 1) },
    });
    expectError(res, 413, 'payload_too_large');
    expect(await listTeams()).toEqual([]);
  });

  it('accepts a body just under BODY_LIMIT_BYTES', async () => {
    const body = { id: 'fits', name: 'Fits', pad: '' };
    body.pad = 'x'.repeat(BODY_LIMIT - 100 - JSON.stringify(body).length);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(BODY_LIMIT);
    const res = await api<TeamView>(server, 'POST', '/api/teams', { body });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'fits', name: 'Fits' });
  });
});

describe('GET /api/teams', () => {
  it('is empty on a fresh server', async () => {
    expect(await listTeams()).toEqual([]);
  });

  it('lists stored teams and teams with live connections; online counts distinct users', async () => {
    const stored = await createTeam('stored', 'Stored team');
    await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    await open({ id: 'u3', name: 'Carol', teamId: 'team-b' });

    const teams = await listTeams();
    expect(teams.map((t) => t.id).sort()).toEqual(['stored', 'team-a', 'team-b']);
    const byId = new Map(teams.map((t) => [t.id, t]));
    expect(byId.get('team-a')).toMatchObject({ id: 'team-a', online: 2, connections: 3 });
    expect(byId.get('team-b')).toMatchObject({ id: 'team-b', online: 1, connections: 1 });
    expect(byId.get('stored')).toEqual({
      id: 'stored',
      name: 'Stored team',
      online: 0,
      connections: 0,
      createdAt: stored.createdAt,
    });
    for (const t of teams) {
      expect(Object.keys(t).sort()).toEqual(['connections', 'createdAt', 'id', 'name', 'online']);
      expect(typeof t.name).toBe('string');
    }
  });

  it('counts the connections of a stored team and keeps its name', async () => {
    const team = await createTeam('team-a', 'Team A');
    await open({ id: 'u1', teamId: 'team-a' });
    await open({ id: 'u2', teamId: 'team-a' });
    expect(await listTeams()).toEqual([
      { id: 'team-a', name: 'Team A', online: 2, connections: 2, createdAt: team.createdAt },
    ]);
  });

  it('updates the counts when connections close', async () => {
    const a1 = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const b1 = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    const b2 = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    expect((await listTeams())[0]).toMatchObject({ online: 2, connections: 3 });

    await b1.close();
    await b2.close();
    // The teammate hears Bob leave once his last connection is gone from presence.
    const leave = await nextPresence(a1, 'leave');
    expect(leave).toMatchObject({ user: { id: 'u2', name: 'Bob' } });
    expect((await listTeams())[0]).toMatchObject({ id: 'team-a', online: 1, connections: 1 });
  });
});

describe('GET /api/teams/:teamId', () => {
  it('returns the team and its members with connection counts', async () => {
    const team = await createTeam('team-a', 'Team A');
    await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    await open({ id: 'u2', name: '张三', teamId: 'team-a' });
    await open({ id: 'u3', name: 'Other', teamId: 'team-b' });

    const res = await api<TeamDetail>(server, 'GET', '/api/teams/team-a');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'team-a', name: 'Team A', createdAt: team.createdAt });
    const members = [...res.body.members].sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(members).toEqual([
      { id: 'u1', name: 'Alice', connections: 2 },
      { id: 'u2', name: '张三', connections: 1 },
    ]);
  });

  it('returns a stored team with no one online with an empty member list', async () => {
    await createTeam('quiet', 'Quiet');
    const res = await api<TeamDetail>(server, 'GET', '/api/teams/quiet');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'quiet', name: 'Quiet', members: [] });
  });

  it('returns a team that exists only because someone connected', async () => {
    await open({ id: 'u1', name: 'Alice', teamId: 'adhoc' });
    const res = await api<TeamDetail>(server, 'GET', '/api/teams/adhoc');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'adhoc',
      members: [{ id: 'u1', name: 'Alice', connections: 1 }],
    });
  });

  it('answers 404 not_found for an unknown team', async () => {
    await createTeam('team-a', 'Team A');
    expectError(await api(server, 'GET', '/api/teams/nope'), 404, 'not_found');
  });

  it('answers 400 bad_request for an invalid team id', async () => {
    expectError(await api(server, 'GET', '/api/teams/bad%20id'), 400, 'bad_request');
    expectError(await api(server, 'GET', `/api/teams/${'a'.repeat(65)}`), 400, 'bad_request');
  });
});

describe('GET /api/connections', () => {
  async function listConnections(query = ''): Promise<ConnectionPage> {
    const res = await api<ConnectionPage>(server, 'GET', `/api/connections${query}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  it('lists every connection with its fields and next: null', async () => {
    const before = Date.now();
    const a = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const b = await open({ id: 'u2', name: 'Bob 🙂', teamId: 'team-a' });
    const c = await open({ id: 'u1', name: 'Alice', teamId: 'team-b' });

    const page = await listConnections();
    expect(page.next).toBeNull();
    const byConn = new Map(page.connections.map((conn) => [conn.connId, conn]));
    expect([...byConn.keys()].sort()).toEqual([a, b, c].map(connIdOf).sort());
    const expected: [TestClient, string, string, string][] = [
      [a, 'u1', 'Alice', 'team-a'],
      [b, 'u2', 'Bob 🙂', 'team-a'],
      [c, 'u1', 'Alice', 'team-b'],
    ];
    for (const [client, userId, name, teamId] of expected) {
      const conn = byConn.get(connIdOf(client))!;
      expect(conn).toEqual({
        connId: connIdOf(client),
        userId,
        name,
        teamId,
        node: 'test-node',
        ip: '127.0.0.1',
        connectedAt: expect.any(String),
      });
      expect(isIsoDate(conn.connectedAt)).toBe(true);
      expect(Date.parse(conn.connectedAt)).toBeGreaterThanOrEqual(before - 1000);
    }
  });

  it('is empty with no connections', async () => {
    expect(await listConnections()).toEqual({ connections: [], next: null });
  });

  it('filters by teamId, userId and both', async () => {
    const a1 = await open({ id: 'u1', teamId: 'team-a' });
    const a1b = await open({ id: 'u1', teamId: 'team-a' });
    const a2 = await open({ id: 'u2', teamId: 'team-a' });
    const b1 = await open({ id: 'u1', teamId: 'team-b' });
    await open({ id: 'u3', teamId: 'team-b' });

    const ids = (page: ConnectionPage) => page.connections.map((c) => c.connId).sort();
    expect(ids(await listConnections('?teamId=team-a'))).toEqual(
      [a1, a1b, a2].map(connIdOf).sort(),
    );
    expect(ids(await listConnections('?userId=u1'))).toEqual([a1, a1b, b1].map(connIdOf).sort());
    expect(ids(await listConnections('?teamId=team-b&userId=u1'))).toEqual([connIdOf(b1)]);
    expect(await listConnections('?teamId=nobody-here')).toEqual({ connections: [], next: null });
    expect(await listConnections('?userId=ghost')).toEqual({ connections: [], next: null });
  });

  it('pages with limit and cursor, visiting every connection exactly once', async () => {
    const opened: TestClient[] = [];
    for (let i = 0; i < 5; i++) opened.push(await open({ id: `u${i}`, teamId: 'team-a' }));

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string =
        cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
      const page = await listConnections(query);
      pages++;
      expect(page.connections.length).toBeGreaterThan(0);
      expect(page.connections.length).toBeLessThanOrEqual(2);
      seen.push(...page.connections.map((c) => c.connId));
      cursor = page.next;
      expect(pages).toBeLessThanOrEqual(5);
    } while (cursor !== null);

    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect([...seen].sort()).toEqual(opened.map(connIdOf).sort());
  });

  it('pages within a filter', async () => {
    const inTeam: TestClient[] = [];
    for (let i = 0; i < 3; i++) inTeam.push(await open({ id: `a${i}`, teamId: 'team-a' }));
    for (let i = 0; i < 3; i++) await open({ id: `b${i}`, teamId: 'team-b' });

    const first = await listConnections('?teamId=team-a&limit=2');
    expect(first.connections).toHaveLength(2);
    expect(first.next).toEqual(expect.any(String));
    const second = await listConnections(
      `?teamId=team-a&limit=2&cursor=${encodeURIComponent(first.next!)}`,
    );
    expect(second.next).toBeNull();
    const seen = [...first.connections, ...second.connections];
    expect(seen.every((c) => c.teamId === 'team-a')).toBe(true);
    expect(seen.map((c) => c.connId).sort()).toEqual(inTeam.map(connIdOf).sort());
  });

  it('gives next: null when the page holds exactly the rest', async () => {
    await open({ id: 'u1', teamId: 'team-a' });
    await open({ id: 'u2', teamId: 'team-a' });
    const page = await listConnections('?limit=2');
    expect(page.connections).toHaveLength(2);
    expect(page.next).toBeNull();
  });

  it.each([
    ['0', '?limit=0'],
    ['a negative number', '?limit=-1'],
    ['a fraction', '?limit=1.5'],
    ['not a number', '?limit=abc'],
    ['too large', '?limit=5000'],
    ['empty', '?limit='],
  ])('answers 400 bad_request for a limit that is %s', async (_label, query) => {
    await open({ id: 'u1', teamId: 'team-a' });
    expectError(await api(server, 'GET', `/api/connections${query}`), 400, 'bad_request');
  });

  it('answers 400 bad_request for invalid filters', async () => {
    expectError(await api(server, 'GET', '/api/connections?teamId=bad%20id'), 400, 'bad_request');
    expectError(
      await api(server, 'GET', `/api/connections?userId=${'u'.repeat(65)}`),
      400,
      'bad_request',
    );
  });
});

describe('DELETE /api/connections/:connId', () => {
  it('answers 204 and closes that socket with 4000; the teammate hears the leave', async () => {
    const victim = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const mate = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    const other = await open({ id: 'u3', name: 'Carol', teamId: 'team-b' });
    await mate.sync();
    mate.drain();

    const res = await api(server, 'DELETE', `/api/connections/${connIdOf(victim)}`);
    expect(res.status).toBe(204);
    expect(res.body).toBe('');

    const closed = await victim.waitClose();
    expect(closed.code).toBe(4000);

    const leave = await mate.next('presence');
    expect(leave).toEqual({
      type: 'presence',
      event: 'leave',
      teamId: 'team-a',
      user: { id: 'u1', name: 'Alice' },
    });
    // Only the kicked connection closed.
    expect(mate.closed).toBeUndefined();
    expect(other.closed).toBeUndefined();
    await expectNothing(other, 'presence');

    const list = await api<ConnectionPage>(server, 'GET', '/api/connections');
    expect(list.body.connections.map((c) => c.connId).sort()).toEqual(
      [mate, other].map(connIdOf).sort(),
    );
    // Gone now: a second kick is a 404.
    expectError(
      await api(server, 'DELETE', `/api/connections/${connIdOf(victim)}`),
      404,
      'not_found',
    );
  });

  it('closes only one of a user’s connections; leave is sent once, with the last', async () => {
    const tab1 = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const tab2 = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const mate = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });

    expect((await api(server, 'DELETE', `/api/connections/${connIdOf(tab1)}`)).status).toBe(204);
    expect((await tab1.waitClose()).code).toBe(4000);
    expect(tab2.closed).toBeUndefined();
    await tab2.sync();

    expect((await api(server, 'DELETE', `/api/connections/${connIdOf(tab2)}`)).status).toBe(204);
    expect((await tab2.waitClose()).code).toBe(4000);

    const leave = await mate.next('presence');
    expect(leave).toMatchObject({ event: 'leave', user: { id: 'u1', name: 'Alice' } });
    await expectNothing(mate, 'presence');
  });

  it('answers 404 not_found for an unknown connId', async () => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    expectError(
      await api(server, 'DELETE', '/api/connections/00000000-0000-4000-8000-000000000000'),
      404,
      'not_found',
    );
    expect(client.closed).toBeUndefined();
    await client.sync();
  });
});

describe('POST /api/teams/:teamId/messages', () => {
  it('publishes to the team: 201 {id, seq}; every team connection gets it from system', async () => {
    const a1 = await open({ id: 'u1', teamId: 'team-a' });
    const a1b = await open({ id: 'u1', teamId: 'team-a' });
    const a2 = await open({ id: 'u2', teamId: 'team-a' });
    const b1 = await open({ id: 'u3', teamId: 'team-b' });

    const data = { text: 'hello 你好', n: [1, 2, 3] };
    const res = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', { body: { data } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), seq: 1 });

    for (const client of [a1, a1b, a2]) {
      const frame = await client.next('message');
      expect(frame).toEqual({
        type: 'message',
        id: res.body.id,
        seq: 1,
        teamId: 'team-a',
        from: SYSTEM,
        data,
        ts: expect.any(Number),
      });
      expect(frame).not.toHaveProperty('to');
    }
    await expectNothing(b1, 'message');

    const second = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'again' },
    });
    expect(second.status).toBe(201);
    expect(second.body.seq).toBe(2);
    expect(second.body.id).not.toBe(res.body.id);
    expect(await a2.next('message')).toMatchObject({ id: second.body.id, seq: 2, data: 'again' });
  });

  it('accepts any JSON as data, including falsy values', async () => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    const values: unknown[] = [0, false, '', null, [], { nested: { deep: true } }];
    for (const data of values) {
      const res = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', { body: { data } });
      expect(res.status).toBe(201);
      expect(await client.next('message')).toMatchObject({ id: res.body.id, data });
    }
  });

  it('takes the seq after messages sent on sockets', async () => {
    const a1 = await open({ id: 'u1', teamId: 'team-a' });
    const a2 = await open({ id: 'u2', teamId: 'team-a' });
    a1.send({ type: 'team', data: 'from socket', ref: 'r1' });
    const ack = await a1.next('ack');
    expect(ack).toMatchObject({ ref: 'r1', seq: 1 });

    const res = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'from api' },
    });
    expect(res.body.seq).toBe(2);
    expect(await a2.next('message')).toMatchObject({ seq: 1, data: 'from socket' });
    expect(await a2.next('message')).toMatchObject({ seq: 2, data: 'from api', from: SYSTEM });
  });

  it('uses a custom from', async () => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    const from = { id: 'deploy-bot', name: 'Deploy Bot 🤖' };
    const res = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'deployed', from },
    });
    expect(res.status).toBe(201);
    expect(await client.next('message')).toMatchObject({ id: res.body.id, from, data: 'deployed' });
  });

  it('publishes to a stored team with no one online, into its history', async () => {
    await createTeam('quiet', 'Quiet');
    const res = await api<Ack>(server, 'POST', '/api/teams/quiet/messages', {
      body: { data: 'for later' },
    });
    expect(res.status).toBe(201);
    expect(res.body.seq).toBe(1);
    const history = await api<MessagePage>(server, 'GET', '/api/teams/quiet/messages');
    expect(history.body.messages).toEqual([
      expect.objectContaining({ id: res.body.id, seq: 1, data: 'for later', from: SYSTEM }),
    ]);
  });

  it('with `to`, delivers only to the recipient’s connections', async () => {
    const alice = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const bobPhone = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    const bobLaptop = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    const carol = await open({ id: 'u3', name: 'Carol', teamId: 'team-a' });
    const bobElsewhere = await open({ id: 'u2', name: 'Bob', teamId: 'team-b' });

    const res = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: { secret: 42 }, to: 'u2' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), seq: 1 });

    for (const bob of [bobPhone, bobLaptop]) {
      expect(await bob.next('message')).toEqual({
        type: 'message',
        id: res.body.id,
        seq: 1,
        teamId: 'team-a',
        from: SYSTEM,
        to: 'u2',
        data: { secret: 42 },
        ts: expect.any(Number),
      });
    }
    await expectNothing(alice, 'message');
    await expectNothing(carol, 'message');
    await expectNothing(bobElsewhere, 'message');

    // A later team message still reaches everyone, with the next seq.
    const team = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'all' },
    });
    expect(team.body.seq).toBe(2);
    expect(await alice.next('message')).toMatchObject({ seq: 2, data: 'all' });
    expect(await carol.next('message')).toMatchObject({ seq: 2, data: 'all' });
  });

  it('keeps a direct message for an offline recipient in history', async () => {
    await createTeam('team-a', 'Team A');
    const res = await api<Ack>(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'while you were out', to: 'u9' },
    });
    expect(res.status).toBe(201);

    const bob = await open({ id: 'u9', teamId: 'team-a' });
    bob.send({ type: 'history' });
    const history = await bob.next('history');
    expect(history['messages']).toEqual([
      expect.objectContaining({ id: res.body.id, to: 'u9', data: 'while you were out' }),
    ]);
  });

  const badPublish: [string, { body?: unknown; rawBody?: string }][] = [
    ['missing data', { body: {} }],
    ['only to', { body: { to: 'u1' } }],
    ['a bad to', { body: { data: 'x', to: 'not valid!' } }],
    ['a from without name', { body: { data: 'x', from: { id: 'bot' } } }],
    ['a from with a bad id', { body: { data: 'x', from: { id: 'b o t', name: 'Bot' } } }],
    ['a from that is a string', { body: { data: 'x', from: 'bot' } }],
    ['a body that is not JSON', { rawBody: 'not json' }],
    ['an array body', { body: [{ data: 'x' }] }],
  ];

  it.each(badPublish)('answers 400 bad_request for %s and publishes nothing', async (_l, input) => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    expectError(await api(server, 'POST', '/api/teams/team-a/messages', input), 400, 'bad_request');
    await expectNothing(client, 'message');
    const history = await api<MessagePage>(server, 'GET', '/api/teams/team-a/messages');
    expect(history.body).toEqual({ messages: [], more: false });
  });

  it('answers 413 for data over BODY_LIMIT_BYTES and publishes nothing', async () => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    const res = await api(server, 'POST', '/api/teams/team-a/messages', {
      body: { data: 'x'.repeat(BODY_LIMIT + 1) },
    });
    expectError(res, 413, 'payload_too_large');
    await expectNothing(client, 'message');
  });

  it('answers 404 not_found for an unknown team and creates nothing', async () => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    expectError(
      await api(server, 'POST', '/api/teams/ghost/messages', { body: { data: 'x' } }),
      404,
      'not_found',
    );
    expectError(await api(server, 'GET', '/api/teams/ghost'), 404, 'not_found');
    expect((await listTeams()).map((t) => t.id)).toEqual(['team-a']);
    await expectNothing(client, 'message');
  });
});

describe('GET /api/teams/:teamId/messages', () => {
  async function publish(teamId: string, body: Record<string, unknown>): Promise<Ack> {
    const res = await api<Ack>(server, 'POST', `/api/teams/${teamId}/messages`, { body });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function history(teamId: string, query = ''): Promise<MessagePage> {
    const res = await api<MessagePage>(server, 'GET', `/api/teams/${teamId}/messages${query}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  const seqs = (page: MessagePage) => page.messages.map((m) => m.seq);

  it('is empty for a team with no messages', async () => {
    await createTeam('team-a', 'Team A');
    expect(await history('team-a')).toEqual({ messages: [], more: false });
  });

  it('returns messages oldest first, with their fields', async () => {
    await createTeam('team-a', 'Team A');
    const acks: Ack[] = [];
    for (let i = 1; i <= 3; i++) acks.push(await publish('team-a', { data: { i } }));

    const page = await history('team-a');
    expect(page.more).toBe(false);
    expect(page.messages).toEqual(
      acks.map((ack, i) => ({
        id: ack.id,
        seq: ack.seq,
        teamId: 'team-a',
        from: SYSTEM,
        data: { i: i + 1 },
        ts: expect.any(Number),
      })),
    );
    const ts = page.messages.map((m) => m.ts);
    expect([...ts].sort((x, y) => x - y)).toEqual(ts);
  });

  it('pages backwards with before and limit, setting more', async () => {
    await createTeam('team-a', 'Team A');
    for (let i = 1; i <= 5; i++) await publish('team-a', { data: i });

    expect(seqs(await history('team-a'))).toEqual([1, 2, 3, 4, 5]);

    const latest = await history('team-a', '?limit=2');
    expect(seqs(latest)).toEqual([4, 5]);
    expect(latest.more).toBe(true);

    const middle = await history('team-a', '?before=4&limit=2');
    expect(seqs(middle)).toEqual([2, 3]);
    expect(middle.more).toBe(true);

    const oldest = await history('team-a', '?before=2&limit=2');
    expect(seqs(oldest)).toEqual([1]);
    expect(oldest.more).toBe(false);

    const exact = await history('team-a', '?before=3&limit=2');
    expect(seqs(exact)).toEqual([1, 2]);
    expect(exact.more).toBe(false);

    expect(await history('team-a', '?before=1')).toEqual({ messages: [], more: false });
    expect(seqs(await history('team-a', '?before=100&limit=5'))).toEqual([1, 2, 3, 4, 5]);
  });

  it('shows an admin direct messages between users as well', async () => {
    const alice = await open({ id: 'u1', name: 'Alice', teamId: 'team-a' });
    const bob = await open({ id: 'u2', name: 'Bob', teamId: 'team-a' });
    alice.send({ type: 'direct', to: 'u2', data: 'psst', ref: 'd1' });
    const ack = await alice.next('ack');
    await bob.next('message');
    const apiDirect = await publish('team-a', { data: 'to carol', to: 'u3' });
    const team = await publish('team-a', { data: 'everyone' });

    const page = await history('team-a');
    expect(page.messages).toEqual([
      expect.objectContaining({
        id: ack['id'],
        seq: 1,
        from: { id: 'u1', name: 'Alice' },
        to: 'u2',
        data: 'psst',
      }),
      expect.objectContaining({ id: apiDirect.id, seq: 2, from: SYSTEM, to: 'u3' }),
      expect.objectContaining({ id: team.id, seq: 3, data: 'everyone' }),
    ]);
    expect(page.messages[2]).not.toHaveProperty('to');
  });

  it('answers 404 not_found for an unknown team', async () => {
    expectError(await api(server, 'GET', '/api/teams/ghost/messages'), 404, 'not_found');
  });

  it.each(['?limit=0', '?limit=abc', '?limit=-3', '?before=-1', '?before=abc'])(
    'answers 400 bad_request for %s',
    async (query) => {
      await createTeam('team-a', 'Team A');
      expectError(
        await api(server, 'GET', `/api/teams/team-a/messages${query}`),
        400,
        'bad_request',
      );
    },
  );
});

describe('POST /api/broadcast', () => {
  it('answers 202 {teams: n} for teams with live connections; every client gets it', async () => {
    await createTeam('stored-only', 'Nobody online');
    const a1 = await open({ id: 'u1', teamId: 'team-a' });
    const a1b = await open({ id: 'u1', teamId: 'team-a' });
    const a2 = await open({ id: 'u2', teamId: 'team-a' });
    const b1 = await open({ id: 'u3', teamId: 'team-b' });
    const c1 = await open({ id: 'u1', teamId: 'team-c' });

    const data = { notice: 'maintenance at 22:00' };
    const res = await api<{ teams: number }>(server, 'POST', '/api/broadcast', { body: { data } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ teams: 3 });

    const expectations: [TestClient, string][] = [
      [a1, 'team-a'],
      [a1b, 'team-a'],
      [a2, 'team-a'],
      [b1, 'team-b'],
      [c1, 'team-c'],
    ];
    const frames: Frame[] = [];
    for (const [client, teamId] of expectations) {
      const frame = await client.next('message');
      expect(frame).toEqual({
        type: 'message',
        id: expect.any(String),
        seq: 1,
        teamId,
        from: SYSTEM,
        data,
        ts: expect.any(Number),
      });
      frames.push(frame);
    }
    // One message per team, each with its own id.
    expect(new Set(frames.map((f) => `${String(f['teamId'])}/${String(f['id'])}`)).size).toBe(3);
    expect(new Set(frames.map((f) => f['id'])).size).toBe(3);
    for (const client of [a1, a2, b1, c1]) await expectNothing(client, 'message');

    const quiet = await api<MessagePage>(server, 'GET', '/api/teams/stored-only/messages');
    expect(quiet.body).toEqual({ messages: [], more: false });
    const teamB = await api<MessagePage>(server, 'GET', '/api/teams/team-b/messages');
    expect(teamB.body.messages).toEqual([expect.objectContaining({ seq: 1, data, from: SYSTEM })]);
  });

  it('answers {teams: 0} when no one is connected', async () => {
    await createTeam('team-a', 'Team A');
    const res = await api(server, 'POST', '/api/broadcast', { body: { data: 'anyone?' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ teams: 0 });
    const history = await api<MessagePage>(server, 'GET', '/api/teams/team-a/messages');
    expect(history.body.messages).toEqual([]);
  });

  it.each<[string, { body?: unknown; rawBody?: string }]>([
    ['missing data', { body: {} }],
    ['a body that is not JSON', { rawBody: 'not json' }],
    ['an array body', { body: ['x'] }],
    ['no body', {}],
  ])('answers 400 bad_request for %s and delivers nothing', async (_label, input) => {
    const client = await open({ id: 'u1', teamId: 'team-a' });
    expectError(await api(server, 'POST', '/api/broadcast', input), 400, 'bad_request');
    await expectNothing(client, 'message');
  });
});

describe('GET /metrics', () => {
  it('answers Prometheus text with the connection gauge and the published counter', async () => {
    await open({ id: 'u1', teamId: 'team-a' });
    await open({ id: 'u2', teamId: 'team-a' });
    const pub = await api(server, 'POST', '/api/teams/team-a/messages', { body: { data: 'x' } });
    expect(pub.status).toBe(201);

    const res = await api<string>(server, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(typeof res.body).toBe('string');
    expect(res.body).toContain('switchboard_connections');
    expect(res.body).toContain('switchboard_messages_published_total');
    expect(res.body).toMatch(/^switchboard_connections 2$/m);
    expect(res.body).toMatch(/^switchboard_messages_published_total\{source="api"\} 1$/m);
  });
});

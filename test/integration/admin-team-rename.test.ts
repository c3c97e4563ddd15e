/**
 * PATCH /api/teams/:teamId (docs/PROTOCOL.md §8): names a team, including one first
 * recorded by a socket, which POST refuses with 409. Runs on both engines.
 */
import { api, type TestServer } from '../helpers/server';
import { serverPerTest } from '../helpers/server-per-test';

interface TeamView {
  id: string;
  name: string;
  online: number;
  connections: number;
  createdAt: string | null;
}

const servers = serverPerTest();
let server: TestServer;

beforeEach(async () => {
  server = await servers.start();
});

const open = (id: string, teamId: string) => servers.open(id, { teamId });

const rename = (teamId: string, body: unknown) =>
  api<TeamView>(server, 'PATCH', `/api/teams/${teamId}`, { body });

it('renames a created team: 200 the team, createdAt kept, and reads show the name', async () => {
  const created = await api<TeamView>(server, 'POST', '/api/teams', {
    body: { id: 'team-a', name: 'Old' },
  });
  const res = await rename('team-a', { name: '新的名字 New' });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    id: 'team-a',
    name: '新的名字 New',
    online: 0,
    connections: 0,
    createdAt: created.body.createdAt,
  });
  const read = await api<TeamView>(server, 'GET', '/api/teams/team-a');
  expect(read.body).toMatchObject({ name: '新的名字 New', createdAt: created.body.createdAt });
  const list = await api<{ teams: TeamView[] }>(server, 'GET', '/api/teams');
  expect(list.body.teams).toEqual([res.body]);
});

it('names a team first recorded by a socket, which POST refuses', async () => {
  await open('u1', 'live');
  await open('u2', 'live');
  const post = await api(server, 'POST', '/api/teams', { body: { id: 'live', name: 'Live' } });
  expect(post.status).toBe(409);

  const res = await rename('live', { name: 'Live Team' });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: 'live', name: 'Live Team', online: 2, connections: 2 });
  expect(typeof res.body.createdAt).toBe('string');

  const list = await api<{ teams: TeamView[] }>(server, 'GET', '/api/teams');
  expect(list.body.teams).toEqual([res.body]);
});

it('a socket joining later keeps the name', async () => {
  await open('u1', 'live');
  await rename('live', { name: 'Named' });
  await open('u2', 'live');
  const read = await api<TeamView>(server, 'GET', '/api/teams/live');
  expect(read.body).toMatchObject({ name: 'Named', online: 2 });
});

it('the name outlives its sockets', async () => {
  const client = await open('u1', 'live');
  await rename('live', { name: 'Named' });
  await client.close();
  const read = await api<TeamView>(server, 'GET', '/api/teams/live');
  expect(read.status).toBe(200);
  expect(read.body).toMatchObject({ name: 'Named', online: 0 });
});

it('an unknown team: 404, and nothing is created', async () => {
  const res = await rename('ghost', { name: 'Ghost' });
  expect(res.status).toBe(404);
  expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  expect((await api(server, 'GET', '/api/teams/ghost')).status).toBe(404);
});

it.each<[string, string, unknown]>([
  ['no name', 'team-a', {}],
  ['an empty name', 'team-a', { name: '' }],
  ['a name of 101 characters', 'team-a', { name: 'n'.repeat(101) }],
  ['a bad team id', 'bad%20id', { name: 'X' }],
])('400 for %s, and the name is kept', async (_label, teamId, body) => {
  await api(server, 'POST', '/api/teams', { body: { id: 'team-a', name: 'Kept' } });
  const res = await rename(teamId, body);
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
  expect((await api<TeamView>(server, 'GET', '/api/teams/team-a')).body.name).toBe('Kept');
});

it('needs the admin token', async () => {
  const res = await api(server, 'PATCH', '/api/teams/team-a', {
    body: { name: 'X' },
    token: null,
  });
  expect(res.status).toBe(401);
});

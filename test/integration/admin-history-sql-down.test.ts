/**
 * GET /api/teams/:teamId/messages while SQL Server is unreachable (a closed port,
 * as in sql-down.test.ts): it answers from what the engine retains, as socket
 * `history` does, and says `archive: "down"` instead of failing with 503. Runs on
 * both engines.
 */
import { connect, type TestClient } from '../helpers/client';
import { freePort } from '../helpers/redis-server';
import { api, startTestServer, type TestServer } from '../helpers/server';

interface MessagePage {
  messages: { seq: number; data: unknown }[];
  more: boolean;
  archive?: string;
}

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

async function publish(teamId: string, count: number): Promise<void> {
  const client = await connect(server.socketUrl, { id: 'u1', teamId });
  clients.push(client);
  for (let i = 1; i <= count; i++) client.send({ type: 'team', data: i, ref: `r${i}` });
  for (let i = 1; i <= count; i++) await client.next('ack');
}

describe('SQL Server unreachable', () => {
  beforeEach(async () => {
    const url = `Server=127.0.0.1,${await freePort()};Database=switchboard;User Id=sa;Password=not-used;Encrypt=false`;
    server = await startTestServer({ MSSQL_URL: url, LOG_LEVEL: 'silent' });
    const ready = await api(server, 'GET', '/api/ready', { token: null });
    expect(ready.body).toMatchObject({ checks: { db: 'down' } });
  });

  it('serves the retained messages with 200 and archive "down"', async () => {
    await publish('A', 3);
    const res = await api<MessagePage>(server, 'GET', '/api/teams/A/messages');
    expect(res.status).toBe(200);
    expect(res.body.messages.map((m) => m.data)).toEqual([1, 2, 3]);
    expect(res.body).toMatchObject({ more: false, archive: 'down' });
  });

  it('pages back through what the engine holds', async () => {
    await publish('A', 5);
    const newest = await api<MessagePage>(server, 'GET', '/api/teams/A/messages?limit=2');
    expect(newest.body.messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(newest.body).toMatchObject({ more: true, archive: 'down' });
    const older = await api<MessagePage>(server, 'GET', '/api/teams/A/messages?before=4&limit=10');
    expect(older.body.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(older.body).toMatchObject({ more: false, archive: 'down' });
  });

  it('a team the engine knows nothing of: an empty page that says the archive was not reached', async () => {
    // Without the store no one can say the team does not exist, so this is not a 404.
    const res = await api<MessagePage>(server, 'GET', '/api/teams/quiet/messages');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ messages: [], more: false, archive: 'down' });
  });

  it('bad input is still 400', async () => {
    const res = await api(server, 'GET', '/api/teams/A/messages?limit=0');
    expect(res.status).toBe(400);
  });
});

describe('without SQL Server configured', () => {
  beforeEach(async () => {
    server = await startTestServer();
  });

  it('the page has no archive field, and an unknown team is 404', async () => {
    await publish('A', 2);
    const res = await api<MessagePage>(server, 'GET', '/api/teams/A/messages');
    expect(res.body).toEqual({ messages: expect.any(Array), more: false });
    expect((await api(server, 'GET', '/api/teams/quiet/messages')).status).toBe(404);
  });
});

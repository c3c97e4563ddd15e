import pino from 'pino';
import { createMemoryEngine } from '../../app/memory-engine';
import type { Store } from '../../services/store';
import type { Team } from '../../services/types';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { startTestServer, type TestServer } from '../helpers/server';

/**
 * Recording a team first seen on a socket is bookkeeping: a store that hangs (SQL
 * Server not answering) or fails must never hold back the welcome.
 */
let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

async function serverWithStore(ensureTeam: (id: string) => Promise<Team>): Promise<string[]> {
  const seen: string[] = [];
  server = await startTestServer({}, (config) => {
    const engine = createMemoryEngine(config, pino({ level: 'silent' }));
    const store: Store = {
      createTeam: (team) => engine.store.createTeam(team),
      getTeam: (id) => engine.store.getTeam(id),
      renameTeam: (id, name) => engine.store.renameTeam(id, name),
      listTeams: () => engine.store.listTeams(),
      close: () => engine.store.close(),
      ensureTeam: (id) => {
        seen.push(id);
        return ensureTeam(id);
      },
    };
    return { ...engine, store };
  });
  return seen;
}

test('a store whose team record never answers does not delay the welcome', async () => {
  const seen = await serverWithStore(() => new Promise<Team>(() => undefined));
  const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
  const b = await connect(server.socketUrl, { id: 'u2', teamId: 'A' });
  clients.push(a, b);
  expect(a.welcome).toMatchObject({ type: 'welcome', teamId: 'A', seq: 0 });
  // The record was still asked for: it is written whenever the store gets to it.
  expect(seen).toContain('A');
  a.send({ type: 'team', data: 'hello' });
  expect(await b.next('message')).toMatchObject({ data: 'hello' });
});

test('a store that fails to record the team leaves the socket open and logs it', async () => {
  await serverWithStore(() => Promise.reject(new Error('sql said no')));
  const a = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
  clients.push(a);
  await a.sync();
  expect(a.closed).toBeUndefined();
  await eventually(() => server.logs.some((l) => l.includes('recording the team failed')));
});

test('the team is recorded once per node while it has connections, again after a failure', async () => {
  let fail = true;
  const seen = await serverWithStore((id) => {
    if (fail) {
      fail = false;
      return Promise.reject(new Error('sql said no'));
    }
    return Promise.resolve({ id, name: id, createdAt: new Date(0).toISOString() });
  });
  // The first join's record fails: the next join asks again, and later ones do not.
  for (const id of ['u1', 'u2', 'u3', 'u4']) {
    const client = await connect(server.socketUrl, { id, teamId: 'A' });
    clients.push(client);
    await client.sync();
  }
  expect(seen).toEqual(['A', 'A']);
});

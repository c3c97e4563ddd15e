import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createEngine } from '../../app/create-engine';
import type { Engine } from '../../app/engine';
import type { DeadLetter } from '../../services/dead-letters';
import { api, startTestServer, type TestServer } from '../helpers/server';

/**
 * GET /api/dead-letters and DELETE /api/dead-letters/:id on a real server, on
 * whichever engine the jest project runs (memory, or Redis). Without MSSQL_URL
 * nothing is ever dead-lettered, so the tests put rows there through the engine.
 */
interface Page {
  deadLetters: DeadLetter[];
  next: string | null;
}

let server: TestServer;
let engine: Engine;

beforeEach(async () => {
  const redisUrl = (globalThis as { __sbUseRedis?: boolean }).__sbUseRedis
    ? process.env['SB_TEST_REDIS_URL']
    : undefined;
  const env: Record<string, string> =
    redisUrl === undefined
      ? {}
      : { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `t${randomUUID().slice(0, 8)}:` };
  server = await startTestServer(env, async (config) => {
    engine = await createEngine(config, pino({ level: 'silent' }));
    return engine;
  });
});

afterEach(async () => {
  await server.close();
});

async function poison(...seqs: number[]): Promise<void> {
  await engine.deadLetters.add(
    seqs.map((seq) => ({
      message: {
        id: randomUUID(),
        seq,
        teamId: 'A',
        from: { id: 'u1', name: '😀'.repeat(100) },
        data: { n: seq },
        ts: 1_700_000_000_000 + seq,
        epoch: 'e1',
      },
      error: '2628: String or binary data would be truncated',
    })),
  );
}

test('without SQL Server the list is empty', async () => {
  const res = await api<Page>(server, 'GET', '/api/dead-letters');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ deadLetters: [], next: null });
});

test('needs the admin token, like every other /api route', async () => {
  expect((await api(server, 'GET', '/api/dead-letters', { token: null })).status).toBe(401);
  expect(
    (await api(server, 'GET', '/api/dead-letters', { token: 'wrong-token-000000' })).status,
  ).toBe(401);
  expect((await api(server, 'DELETE', '/api/dead-letters/1', { token: null })).status).toBe(401);
});

test('lists dead letters oldest first, a page at a time', async () => {
  await poison(1, 2, 3);
  const first = await api<Page>(server, 'GET', '/api/dead-letters?limit=2');
  expect(first.status).toBe(200);
  expect(first.body.deadLetters.map((l) => l.seq)).toEqual([1, 2]);
  expect(first.body.deadLetters[0]).toEqual({
    id: expect.any(String),
    teamId: 'A',
    epoch: 'e1',
    seq: 1,
    error: '2628: String or binary data would be truncated',
    at: expect.any(String),
    message: {
      id: expect.any(String),
      seq: 1,
      teamId: 'A',
      from: { id: 'u1', name: '😀'.repeat(100) },
      data: { n: 1 },
      ts: 1_700_000_000_001,
    },
  });
  const second = await api<Page>(
    server,
    'GET',
    `/api/dead-letters?limit=2&cursor=${encodeURIComponent(first.body.next!)}`,
  );
  expect(second.body.deadLetters.map((l) => l.seq)).toEqual([3]);
  expect(second.body.next).toBeNull();
});

test('DELETE removes one: 204, then 404', async () => {
  await poison(1, 2);
  const [letter] = (await api<Page>(server, 'GET', '/api/dead-letters')).body.deadLetters;
  const path = `/api/dead-letters/${encodeURIComponent(letter!.id)}`;
  const removed = await api(server, 'DELETE', path);
  expect(removed.status).toBe(204);
  const again = await api(server, 'DELETE', path);
  expect(again.status).toBe(404);
  expect(again.body).toMatchObject({ error: { code: 'not_found' } });
  expect((await api(server, 'DELETE', '/api/dead-letters/unknown')).status).toBe(404);
  const rest = await api<Page>(server, 'GET', '/api/dead-letters');
  expect(rest.body.deadLetters.map((l) => l.seq)).toEqual([2]);
});

test('a malformed cursor or limit is 400', async () => {
  for (const query of ['cursor=%21%21', 'limit=0', 'limit=abc', 'limit=1001']) {
    const res = await api(server, 'GET', `/api/dead-letters?${query}`);
    expect({ query, status: res.status }).toEqual({ query, status: 400 });
    expect(res.body).toMatchObject({ error: { code: 'bad_request' } });
  }
});

test('the metrics say how many are held', async () => {
  await poison(1, 2, 3);
  const text = (await api<string>(server, 'GET', '/metrics')).body;
  expect(text).toMatch(/^switchboard_archive_dead_letters 3$/m);
  // Nothing was refused by SQL Server on this node.
  expect(text).toMatch(/^switchboard_archive_dead_lettered_total 0$/m);
  expect(text).toMatch(/^switchboard_archive_dead_letters_dropped_total 0$/m);
});

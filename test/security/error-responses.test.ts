/**
 * Security review, no stack traces or internals in answers. Internal errors are
 * forced through an engine whose backends throw errors that carry a source path
 * and a secret-looking message; every answer must be the catalogue's bare
 * `internal` (HTTP 500, socket error frame, close 1011), while the log keeps the
 * detail. A sweep of bad requests checks every 4xx body too.
 */
import pino from 'pino';
import WebSocket from 'ws';
import { createMemoryEngine } from '../../app/memory-engine';
import { connect, refusedHandshake, socketUrl, TestClient } from '../helpers/client';
import { ADMIN_TOKEN, api, startTestServer, type TestServer } from '../helpers/server';

/** A stack line, a source file or a path from this machine. */
const LEAK = /\n\s+at |\bat [\w.<>]+ \(|\/work\/|node_modules|\.ts:\d+|\.js:\d+|boom/;

const failure = () =>
  new Error('boom: cannot read /work/main/services/secret-store.ts:42 (token=abc)');

let server: TestServer;
const clients: TestClient[] = [];
const failing = { store: false, presence: false, head: false };

beforeAll(async () => {
  server = await startTestServer({ MAX_CONNECTIONS_PER_IP: '50' }, (config) => {
    const engine = createMemoryEngine(config, pino({ level: 'silent' }));
    const listTeams = engine.store.listTeams.bind(engine.store);
    engine.store.listTeams = async () => {
      if (failing.store) throw failure();
      return listTeams();
    };
    const members = engine.presence.members.bind(engine.presence);
    engine.presence.members = async (teamId) => {
      if (failing.presence) throw failure();
      return members(teamId);
    };
    const head = engine.history.head.bind(engine.history);
    engine.history.head = async (teamId) => {
      if (failing.head) throw failure();
      return head(teamId);
    };
    return engine;
  });
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

afterEach(() => {
  failing.store = failing.presence = failing.head = false;
});

test('an internal error on a REST route: 500 internal, no detail in the body, the detail in the log', async () => {
  failing.store = true;
  const res = await api(server, 'GET', '/api/teams');
  expect(res.status).toBe(500);
  expect(res.body).toEqual({ error: { code: 'internal', message: 'internal error' } });
  expect(JSON.stringify(res.body)).not.toMatch(LEAK);
  const logged = server.logs.find((l) => l.includes('request failed'));
  expect(logged).toContain('boom');
  expect(server.logs.join('')).not.toContain(ADMIN_TOKEN);
});

test('an internal error on a socket frame: error internal with the catalogue message, socket stays open', async () => {
  const client = await connect(server.socketUrl, { id: 'u1', teamId: 'A' });
  clients.push(client);
  failing.presence = true;
  client.send({ type: 'presence' });
  const error = await client.next('error');
  expect(error).toEqual({ type: 'error', code: 'internal', message: 'internal error' });
  failing.presence = false;
  await client.sync();
  expect(client.closed).toBeUndefined();
});

test('an internal error while a socket is set up: closed with 1011 and a plain reason', async () => {
  failing.head = true;
  const client = new TestClient(
    new WebSocket(socketUrl(server.socketUrl, { id: 'u2', teamId: 'B' })),
  );
  const closed = await client.waitClose();
  expect(closed.code).toBe(1011);
  expect(closed.reason).not.toMatch(LEAK);
  expect(client.frames).toEqual([]);
});

test('a sweep of bad requests: every error body is the JSON error shape without internals', async () => {
  const requests: [
    string,
    string,
    { rawBody?: string; token?: string | null; headers?: Record<string, string> },
  ][] = [
    ['POST', '/api/teams', { rawBody: '{' }],
    ['POST', '/api/teams', { rawBody: '{"id":1}' }],
    ['POST', '/api/teams', { rawBody: '[]' }],
    ['POST', '/api/teams', { rawBody: '{"__proto__":{"x":1}}' }],
    ['POST', '/api/teams', { rawBody: '{"id":"a"}', headers: { 'content-type': 'text/plain' } }],
    ['POST', '/api/teams', { rawBody: '{"id":"a"}', headers: { 'content-encoding': 'x-unknown' } }],
    ['POST', '/api/teams', { rawBody: 'x'.repeat(300_000) }],
    ['POST', '/api/teams/%zz/messages', { rawBody: '{"data":1}' }],
    ['POST', '/api/teams/A/messages', { rawBody: '{"data":1,"to":"bad id"}' }],
    ['POST', '/api/broadcast', { rawBody: '{}' }],
    ['GET', '/api/teams/no-such-team', {}],
    ['GET', '/api/teams/A/messages?limit=abc', {}],
    ['GET', '/api/connections?limit=0', {}],
    ['GET', '/api/connections?cursor=' + 'c'.repeat(300), {}],
    ['DELETE', '/api/connections/nope', {}],
    ['PUT', '/api/teams', {}],
    ['GET', '/api/teams', { token: null }],
    ['GET', '/api/teams', { token: 'x'.repeat(30) }],
    ['GET', '/socket', {}],
    ['GET', '/nope/../../etc/passwd', {}],
    ['GET', '/%2e%2e/%2e%2e/etc/passwd', {}],
  ];
  for (const [method, path, options] of requests) {
    const res = await api(server, method, path, options);
    if (res.status < 400 || res.status >= 500)
      throw new Error(`${method} ${path}: expected a 4xx, got ${res.status}`);
    expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(JSON.stringify(res.body)).not.toMatch(LEAK);
  }
  for (const query of ['id=bad id&name=a&teamId=A', 'id=a&name=a', 'id=a&name=%07&teamId=A']) {
    const { status, body } = await refusedHandshake(`${server.socketUrl}?${query}`);
    expect(status).toBe(400);
    expect(body).not.toMatch(LEAK);
  }
});

test('a value too deep to serialize never brings a stack into the answer', async () => {
  const deep = `{"data":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
  const big = await startTestServer({ BODY_LIMIT_BYTES: '1048576', LOG_LEVEL: 'silent' });
  try {
    const published = await api(big, 'POST', '/api/teams', { body: { id: 'D', name: 'D' } });
    expect(published.status).toBe(201);
    const res = await api(big, 'POST', '/api/teams/D/messages', { rawBody: deep });
    expect(String(JSON.stringify(res.body))).not.toMatch(LEAK);
    const read = await api(big, 'GET', '/api/teams/D/messages');
    expect(String(JSON.stringify(read.body))).not.toMatch(LEAK);
    const client = await connect(big.socketUrl, { id: 'u', teamId: 'D' });
    client.send({ type: 'history' });
    const answer = await client.next();
    expect(JSON.stringify(answer)).not.toMatch(LEAK);
    await client.close();
  } finally {
    await big.close();
  }
});

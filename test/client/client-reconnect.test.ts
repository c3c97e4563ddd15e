import { once } from 'node:events';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import type { Config } from '../../app/config';
import type { Engine } from '../../app/engine';
import { createMemoryEngine } from '../../app/memory-engine';
import { eventually } from '../helpers/eventually';
import { api, startTestServer, type TestServer } from '../helpers/server';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { closeClients, record, startNode, until, type Node, type Recorded } from './harness';

const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  closeClients();
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function server(env: Record<string, string> = {}, engine?: (c: Config) => Engine) {
  const s: TestServer = await startTestServer({ RATE_LIMIT_PER_S: '0', ...env }, engine);
  stops.push(() => s.close());
  return s;
}

async function node(port: number, env: Record<string, string> = {}): Promise<Node> {
  const n = await startNode(port, { RATE_LIMIT_PER_S: '0', ...env });
  stops.push(() => n.close());
  return n;
}

async function kick(s: { http: string }, connId: string): Promise<void> {
  const res = await api(s, 'DELETE', `/api/connections/${connId}`);
  expect(res.status).toBe(204);
}

/** The seqs a client saw are strictly increasing: nothing twice, nothing out of order. */
function expectInOrder(rec: Recorded<number>): void {
  const seqs = rec.messages.map((m) => m.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
}

test('after a kick it reconnects and resumes: every message once, in order', async () => {
  const s = await server();
  const ann = record<number>(s.socketUrl, { id: 'ann', teamId: 'T' });
  const bob = record<number>(s.socketUrl, { id: 'bob', teamId: 'T' });
  await ann.client.connect();
  const first = await bob.client.connect();
  await ann.client.send(0);
  await until(() => bob.messages.length === 1);

  // Messages keep coming while bob is down, reconnecting and replaying.
  const sent: Promise<unknown>[] = [];
  const off = bob.client.on('close', () => {
    off();
    for (let n = 1; n <= 30; n++) sent.push(ann.client.send(n));
  });
  await kick(s, first.connId);
  await until(() => bob.opens.length === 2 && sent.length === 30);
  await Promise.all(sent);
  await until(() => bob.messages.length === 31);

  expect(bob.closes[0]).toMatchObject({
    code: 4000,
    reason: 'closed by an admin',
    willReconnect: true,
  });
  expect(bob.opens[1]!.connId).not.toBe(first.connId);
  expect(bob.resumed).toHaveLength(1);
  expect(bob.resumed[0]).toMatchObject({ since: 1, complete: true });
  expect(bob.messages.map((m) => m.data)).toEqual([...Array(31).keys()]);
  expectInOrder(bob);
  // Nothing more arrives later: a round trip through the server settles it.
  await bob.client.presence();
  expect(bob.messages).toHaveLength(31);
});

test('sends made while disconnected are queued and sent once the connection is back', async () => {
  const s = await server();
  const ann = record<number>(s.socketUrl, { id: 'ann', teamId: 'T' });
  const bob = record<number>(s.socketUrl, { id: 'bob', teamId: 'T' });
  await bob.client.connect();
  const first = await ann.client.connect();
  const queued: Promise<unknown>[] = [];
  const off = ann.client.on('close', () => {
    off();
    for (let n = 1; n <= 5; n++) queued.push(ann.client.send(n));
  });
  await kick(s, first.connId);
  await until(() => queued.length === 5);
  const acks = await Promise.all(queued);
  expect(acks.map((a) => (a as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5]);
  await until(() => bob.messages.length === 5);
  expect(bob.messages.map((m) => m.data)).toEqual([1, 2, 3, 4, 5]);
});

test('a send in flight when the connection drops is sent again and published once', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  stops.push(async () => release());
  const gated = (config: Config): Engine => {
    const engine = createMemoryEngine(config, pino({ level: 'silent' }));
    const publishOnce = engine.bus.publishOnce.bind(engine.bus);
    engine.bus.publishOnce = async (draft, key) => {
      if (draft.data === 99) await gate;
      return publishOnce(draft, key);
    };
    return engine;
  };
  const s = await server({}, gated);
  const ann = record<number>(s.socketUrl, { id: 'ann', teamId: 'T' });
  const bob = record<number>(s.socketUrl, { id: 'bob', teamId: 'T' });
  await bob.client.connect();
  const first = await ann.client.connect();
  await ann.client.send(1);

  // Stored only after ann's connection is gone and a new one is open: ann's retry
  // (same ref) and the server's copy of the message race, and must settle as one.
  const inFlight = ann.client.send(99);
  await kick(s, first.connId);
  await until(() => ann.opens.length === 2);
  release();
  const ack = await inFlight;
  await ann.client.send(2);
  await until(() => bob.messages.length === 3);

  expect(bob.messages.map((m) => m.data)).toEqual([1, 99, 2]);
  expect(bob.messages[1]!.id).toBe(ack.id);
  expect(ann.messages).toEqual([]);
  const stored = await api<{ messages: { data: unknown }[] }>(s, 'GET', '/api/teams/T/messages');
  expect(stored.body.messages.map((m) => m.data)).toEqual([1, 99, 2]);
});

test('after a server restart (memory engine) it reconnects and is told to reload history', async () => {
  const first = await node(0);
  const port = first.port;
  const ann = record<number>(first.socketUrl, { id: 'ann', teamId: 'T' });
  const bob = record<number>(first.socketUrl, { id: 'bob', teamId: 'T' });
  await ann.client.connect();
  const before = await bob.client.connect();
  await ann.client.send(1);
  await until(() => bob.messages.length === 1);

  await first.close();
  await until(() => bob.closes.length === 1 && ann.closes.length === 1);
  expect(bob.closes[0]).toMatchObject({ code: 1001, willReconnect: true });
  const queued = bob.client.send(2);
  await until(() => bob.errors.some((e) => e.code === 'connection_failed'));

  const second = await node(port);
  await until(() => bob.opens.length === 2 && ann.opens.length === 2);
  expect(bob.opens[1]!.epoch).not.toBe(before.epoch);
  await until(() => bob.resumed.length === 1);
  expect(bob.resumed[0]).toMatchObject({ since: 1, complete: false });
  // Sent while the server was down, stored once it was back: the new epoch starts at 1.
  await expect(queued).resolves.toMatchObject({ seq: 1 });
  const stored = await api<{ messages: { data: unknown }[] }>(
    second,
    'GET',
    '/api/teams/T/messages',
  );
  expect(stored.body.messages.map((m) => m.data)).toEqual([2]);

  await ann.client.send(3);
  await until(() => bob.messages.length === 2);
  expect(bob.messages.map((m) => [m.data, m.seq])).toEqual([
    [1, 1],
    [3, 2],
  ]);
});

test('a server that stops answering is noticed by the app-level ping and replaced', async () => {
  // A fake server: a welcome, then silence, as when a network path dies without a close.
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  stops.push(() => new Promise((resolve) => wss.close(() => resolve())));
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    socket.send(
      JSON.stringify({
        type: 'welcome',
        connId: `c${connections}`,
        user: { id: 'ann', name: 'ann' },
        teamId: 'T',
        seq: 0,
        epoch: 'e',
        heartbeatMs: 25000,
      }),
    );
  });
  const port = (wss.address() as { port: number }).port;
  const ann = record(`ws://127.0.0.1:${port}/socket`, {
    id: 'ann',
    teamId: 'T',
    pingIntervalMs: 50,
    pongTimeoutMs: 100,
  });
  await ann.client.connect();
  await until(() => ann.opens.length === 2);
  expect(ann.closes[0]).toMatchObject({
    code: 1006,
    reason: 'no answer to ping',
    willReconnect: true,
  });
});

describeWithRedis('client library on the Redis engine', () => {
  const redis = useRedisServer();

  test('after a server restart it resumes with no gap and no duplicate', async () => {
    const env = { REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: 'client-test:' };
    const first = await node(0, env);
    const port = first.port;
    const bob = record<number>(first.socketUrl, { id: 'bob', teamId: 'T' });
    await bob.client.connect();
    await api(first, 'POST', '/api/teams/T/messages', { body: { data: 1 } });
    await until(() => bob.messages.length === 1);

    await first.close();
    await until(() => bob.closes.length === 1);
    const other = await node(0, env);
    for (let n = 2; n <= 6; n++)
      await api(other, 'POST', '/api/teams/T/messages', { body: { data: n } });

    await node(port, env);
    await until(() => bob.resumed.length === 1);
    expect(bob.resumed[0]).toMatchObject({ since: 1, seq: 6, complete: true });
    await api(other, 'POST', '/api/teams/T/messages', { body: { data: 7 } });
    await until(() => bob.messages.length === 7);
    expect(bob.messages.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expectInOrder(bob);
  });

  test('when Redis comes back empty it hears of the new epoch and misses nothing after it', async () => {
    const env = { REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: 'client-epoch:' };
    const n = await node(0, env);
    const bob = record<number>(n.socketUrl, { id: 'bob', teamId: 'T' });
    await bob.client.connect();
    for (let i = 1; i <= 5; i++)
      await api(n, 'POST', '/api/teams/T/messages', { body: { data: i } });
    await until(() => bob.messages.length === 5);
    const before = bob.client.position.epoch;

    await redis.server.kill();
    await redis.server.restart();
    // Once seen to stay 503 past 20 s under CI load: the failure says what was still down.
    let lastReady: unknown;
    await eventually(async () => {
      const ready = await api(n, 'GET', '/api/ready');
      lastReady = ready.body;
      return ready.status === 200;
    }, 20_000).catch((err: unknown) => {
      throw new Error(`not ready 20 s after Redis came back: ${JSON.stringify(lastReady)}`, {
        cause: err,
      });
    });
    // A node that said ready too early (its presence not yet back) answered these 404.
    for (let i = 1; i <= 3; i++) {
      const sent = await api(n, 'POST', '/api/teams/T/messages', { body: { data: 100 + i } });
      expect(sent.status).toBe(201);
    }
    await until(() => bob.messages.length === 8);
    expect(bob.messages.map((m) => [m.seq, m.data])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
      [1, 101],
      [2, 102],
      [3, 103],
    ]);
    expect(bob.epochs).toHaveLength(1);
    expect(bob.epochs[0]).toMatchObject({ teamId: 'T', seq: 0 });
    expect(bob.epochs[0]!.epoch).not.toBe(before);
    expect(bob.client.position).toEqual({ seq: 3, epoch: bob.epochs[0]!.epoch });
    // The notice comes before the first message of the new epoch.
    expect(bob.log.filter((e) => e === 'epoch' || e === 'message').slice(5, 7)).toEqual([
      'epoch',
      'message',
    ]);
  });
});

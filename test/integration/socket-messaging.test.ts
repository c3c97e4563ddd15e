import WebSocket from 'ws';
import { connect, socketUrl, TestClient, type Frame } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
const clients: TestClient[] = [];

async function open(id: string, teamId: string, name = id): Promise<TestClient> {
  const client = await connect(server.socketUrl, { id, name, teamId });
  clients.push(client);
  return client;
}

beforeEach(async () => {
  server = await startTestServer({ RATE_LIMIT_PER_S: '0' });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

describe('welcome', () => {
  test('is the first frame, with connId, user, team, seq, epoch and heartbeat', async () => {
    const ws = new WebSocket(socketUrl(server.socketUrl, { id: 'u1', name: '张三', teamId: 'A' }));
    const client = new TestClient(ws);
    clients.push(client);
    const welcome = await client.next();
    expect(welcome).toEqual({
      type: 'welcome',
      connId: expect.any(String),
      user: { id: 'u1', name: '张三' },
      teamId: 'A',
      seq: 0,
      epoch: expect.any(String),
      heartbeatMs: 25000,
    });
  });

  test('each connection of one user gets its own connId', async () => {
    const a = await open('u1', 'A');
    const b = await open('u1', 'A');
    expect(a.welcome['connId']).not.toEqual(b.welcome['connId']);
  });

  test('seq in the welcome is the latest team seq', async () => {
    const a = await open('u1', 'A');
    a.send('one');
    a.send('two');
    await a.next('ack');
    await a.next('ack');
    const b = await open('u2', 'A');
    expect(b.welcome['seq']).toBe(2);
  });
});

describe("the seed's client code, unchanged", () => {
  test('plain text reaches only the teammate, with from, seq and ts', async () => {
    const teammate = await open('u2', 'A', 'Bob');
    const other = await open('u3', 'B');
    // The seed: new WebSocket(url); ws.send('消息发送') once open.
    const ws = new WebSocket(
      `${server.socketUrl}?id=u1&name=${encodeURIComponent('张三')}&teamId=A`,
    );
    const seed = new TestClient(ws);
    clients.push(seed);
    await new Promise<void>((resolve) => ws.on('open', () => resolve()));
    ws.send('消息发送');

    const message = await teammate.next('message');
    expect(message).toEqual({
      type: 'message',
      id: expect.any(String),
      seq: 1,
      teamId: 'A',
      from: { id: 'u1', name: '张三' },
      data: '消息发送',
      ts: expect.any(Number),
    });
    const ack = await seed.next('ack');
    expect(ack).toEqual({ type: 'ack', id: message['id'], seq: 1 });
    await other.sync();
    expect(other.take('message')).toEqual([]);
  });
});

describe('team messages', () => {
  test('go to every connection of the team except the sending one', async () => {
    const sender = await open('u1', 'A');
    const senderOther = await open('u1', 'A');
    const mate = await open('u2', 'A');
    sender.send({ type: 'team', data: { text: 'hi' }, ref: 'r1' });
    const ack = await sender.next('ack');
    expect(ack).toEqual({ type: 'ack', ref: 'r1', id: expect.any(String), seq: 1 });
    expect((await senderOther.next('message'))['data']).toEqual({ text: 'hi' });
    expect((await mate.next('message'))['id']).toBe(ack['id']);
    await sender.sync();
    expect(sender.take('message')).toEqual([]);
  });

  test('arrive in seq order at every connection, with several senders', async () => {
    const senders = await Promise.all(['s1', 's2', 's3'].map((id) => open(id, 'A')));
    const watcher = await open('w', 'A');
    for (let i = 0; i < 20; i++) for (const s of senders) s.send({ type: 'team', data: i });
    for (const s of senders) for (let i = 0; i < 20; i++) await s.next('ack');
    const seqs: number[] = [];
    for (let i = 0; i < 60; i++) seqs.push((await watcher.next('message'))['seq'] as number);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  test("one socket's burst is stored in send order, acked in order, and seen by a later read", async () => {
    const sender = await open('u1', 'A');
    const watcher = await open('w', 'A');
    // Sent without waiting: the server hands them to the bus before the first is stored.
    for (let i = 0; i < 100; i++) {
      sender.send({ type: i % 2 === 0 ? 'team' : 'direct', to: 'w', data: i, ref: `r${i}` });
    }
    sender.send({ type: 'history', limit: 200 });
    sender.send({ type: 'team', data: 'bad', ref: 42 });
    sender.send({ type: 'team', data: 100, ref: 'r100' });
    const replies: Frame[] = [];
    while (replies.length < 103) {
      const frame = await sender.next();
      if (frame.type !== 'presence') replies.push(frame);
    }
    const acks = replies.slice(0, 100);
    expect(acks.map((a) => [a.type, a['ref'], a['seq']])).toEqual(
      Array.from({ length: 100 }, (_, i) => ['ack', `r${i}`, i + 1]),
    );
    const history = replies[100]!;
    expect(history.type).toBe('history');
    expect((history['messages'] as Frame[]).map((m) => m['data'])).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(replies[101]).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(replies[102]).toMatchObject({ type: 'ack', ref: 'r100', seq: 101 });
    const seen: unknown[] = [];
    for (let i = 0; i < 101; i++) seen.push((await watcher.next('message'))['data']);
    expect(seen).toEqual(Array.from({ length: 101 }, (_, i) => i));
  });

  test('teams have independent seqs', async () => {
    const a = await open('u1', 'A');
    const b = await open('u2', 'B');
    a.send('x');
    b.send('y');
    expect((await a.next('ack'))['seq']).toBe(1);
    expect((await b.next('ack'))['seq']).toBe(1);
  });

  test('the same ref within the window returns the first ack and publishes once', async () => {
    const sender = await open('u1', 'A');
    const mate = await open('u2', 'A');
    sender.send({ type: 'team', data: 'once', ref: 'same' });
    const first = await sender.next('ack');
    sender.send({ type: 'team', data: 'once', ref: 'same' });
    const second = await sender.next('ack');
    expect(second).toEqual(first);
    await mate.next('message');
    await mate.sync();
    expect(mate.take('message')).toEqual([]);
    // Another user may use the same ref.
    const other = await open('u3', 'A');
    other.send({ type: 'team', data: 'mine', ref: 'same' });
    expect((await other.next('ack'))['id']).not.toEqual(first['id']);
  });
});

describe('direct messages', () => {
  test("reach the recipient's connections and the sender's other connections only", async () => {
    const sender = await open('u1', 'A');
    const senderOther = await open('u1', 'A');
    const to1 = await open('u2', 'A');
    const to2 = await open('u2', 'A');
    const third = await open('u3', 'A');
    sender.send({ type: 'direct', to: 'u2', data: 'psst' });
    const ack = await sender.next('ack');
    for (const c of [senderOther, to1, to2]) {
      expect(await c.next('message')).toMatchObject({
        id: ack['id'],
        to: 'u2',
        from: { id: 'u1' },
        data: 'psst',
      });
    }
    await third.sync();
    await sender.sync();
    expect(third.take('message')).toEqual([]);
    expect(sender.take('message')).toEqual([]);
  });

  test('to an offline user are stored and shown to them in history', async () => {
    const sender = await open('u1', 'A');
    sender.send({ type: 'direct', to: 'later', data: 'for you' });
    await sender.next('ack');
    const later = await open('later', 'A');
    later.send({ type: 'history' });
    const history = await later.next('history');
    expect(history['messages']).toEqual([
      expect.objectContaining({ to: 'later', data: 'for you' }),
    ]);
  });

  test('are hidden from third parties in history', async () => {
    const sender = await open('u1', 'A');
    sender.send({ type: 'direct', to: 'u2', data: 'secret' });
    sender.send({ type: 'team', data: 'public' });
    await sender.next('ack');
    await sender.next('ack');
    const third = await open('u3', 'A');
    third.send({ type: 'history' });
    const history = await third.next('history');
    expect((history['messages'] as Frame[]).map((m) => m['data'])).toEqual(['public']);
  });
});

describe('presence', () => {
  test("join on a user's first connection and leave on their last, once each", async () => {
    const watcher = await open('w', 'A');
    const first = await open('u1', 'A', 'Ann');
    expect(await watcher.next('presence')).toEqual({
      type: 'presence',
      event: 'join',
      teamId: 'A',
      user: { id: 'u1', name: 'Ann' },
    });
    const second = await open('u1', 'A', 'Ann');
    await second.close();
    await watcher.sync();
    expect(watcher.take('presence')).toEqual([]);
    await first.close();
    expect(await watcher.next('presence')).toMatchObject({ event: 'leave', user: { id: 'u1' } });
    // A user in another team is not announced here.
    await open('x', 'B');
    await watcher.sync();
    expect(watcher.take('presence')).toEqual([]);
  });

  test('a join storm reaches every member once per user, ahead of any later message', async () => {
    const watcher = await open('w', 'A');
    const ids = Array.from({ length: 40 }, (_, i) => `s${i}`);
    const joined = await Promise.all(ids.map((id) => open(id, 'A')));
    // Every joiner has its welcome, so every join happened before this message.
    joined[0]!.send({ type: 'team', data: 'after the storm' });
    const message = await watcher.next('message');
    expect(message['data']).toBe('after the storm');
    const before = watcher.frames.slice(1, watcher.frames.indexOf(message));
    expect(before.every((f) => f.type === 'presence' && f['event'] === 'join')).toBe(true);
    expect(before.map((f) => (f['user'] as { id: string }).id).sort()).toEqual([...ids].sort());
    // A late joiner hears of none of them: they were online before it came.
    const late = await open('late', 'A');
    await Promise.all(joined.slice(0, 10).map((c) => c.close()));
    const leaves = new Set<string>();
    while (leaves.size < 10) {
      const frame = await late.next('presence');
      expect(frame['event']).toBe('leave');
      leaves.add((frame['user'] as { id: string }).id);
    }
    expect([...leaves].sort()).toEqual(ids.slice(0, 10).sort());
    await late.sync();
    expect(late.take('presence')).toEqual([]);
  });

  test('members lists who is online with connection counts', async () => {
    const a = await open('u1', 'A', 'Ann');
    await open('u1', 'A', 'Ann');
    await open('u2', 'A', 'Bob');
    await open('u3', 'B');
    a.send({ type: 'presence' });
    const members = await a.next('members');
    expect(members['teamId']).toBe('A');
    expect(members['members']).toEqual(
      expect.arrayContaining([
        { id: 'u1', name: 'Ann', connections: 2 },
        { id: 'u2', name: 'Bob', connections: 1 },
      ]),
    );
    expect(members['members']).toHaveLength(2);
  });
});

describe('history', () => {
  test('pages backwards with before and limit, oldest first, with more', async () => {
    const a = await open('u1', 'A');
    for (let i = 1; i <= 5; i++) a.send({ type: 'team', data: i });
    for (let i = 1; i <= 5; i++) await a.next('ack');
    a.send({ type: 'history', limit: 2 });
    const page1 = await a.next('history');
    expect((page1['messages'] as Frame[]).map((m) => m['seq'])).toEqual([4, 5]);
    expect(page1['more']).toBe(true);
    a.send({ type: 'history', before: 4, limit: 2 });
    const page2 = await a.next('history');
    expect((page2['messages'] as Frame[]).map((m) => m['seq'])).toEqual([2, 3]);
    a.send({ type: 'history', before: 2, limit: 2 });
    const page3 = await a.next('history');
    expect((page3['messages'] as Frame[]).map((m) => m['seq'])).toEqual([1]);
    expect(page3['more']).toBe(false);
  });

  test('defaults to 50 and clamps the limit to 200', async () => {
    const a = await open('u1', 'A');
    for (let i = 0; i < 210; i++) a.send({ type: 'team', data: i });
    for (let i = 0; i < 210; i++) await a.next('ack');
    a.send({ type: 'history' });
    expect((await a.next('history'))['messages']).toHaveLength(50);
    a.send({ type: 'history', limit: 1000 });
    expect((await a.next('history'))['messages']).toHaveLength(200);
  });
});

describe('ping', () => {
  test('is answered with pong', async () => {
    const a = await open('u1', 'A');
    a.send({ type: 'ping' });
    expect(await a.next()).toEqual({ type: 'pong' });
  });
});

describe('bad frames get an error frame and the connection lives on', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['unknown type', JSON.stringify({ type: 'shout', data: 1 }), /unknown frame type/],
    ['malformed JSON object', '{"type":"team","data":', /malformed JSON/],
    ['team without data', JSON.stringify({ type: 'team' }), /data/],
    ['direct without to', JSON.stringify({ type: 'direct', data: 1 }), /to/],
    ['direct to a bad id', JSON.stringify({ type: 'direct', to: 'a b', data: 1 }), /to/],
    ['ref too long', JSON.stringify({ type: 'team', data: 1, ref: 'x'.repeat(65) }), /ref/],
    ['history with a bad limit', JSON.stringify({ type: 'history', limit: 0 }), /limit/],
    ['binary frame', Buffer.from([1, 2, 3]), /binary/],
  ];

  test.each(cases)('%s', async (_name, frame, message) => {
    const a = await open('u1', 'A');
    const mate = await open('u2', 'A');
    a.ws.send(frame);
    const error = await a.next('error');
    expect(error).toEqual({
      type: 'error',
      code: 'bad_request',
      message: expect.stringMatching(message),
    });
    // Still open, and nothing was published.
    a.send('after');
    expect((await a.next('ack'))['seq']).toBe(1);
    expect((await mate.next('message'))['data']).toBe('after');
  });
});

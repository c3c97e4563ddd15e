import type { Message, SubscriptionEnd, TeamSubscription } from '../../client/switchboard-client';
import { api, startTestServer, type TestServer } from '../helpers/server';
import { closeClients, record, until } from './harness';

const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  closeClients();
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startTestServer({ RATE_LIMIT_PER_S: '0', ...env });
  stops.push(() => s.close());
  return s;
}

/** A subscription's messages and its end, as its listeners saw them. */
function watch<T>(sub: TeamSubscription<T>): { messages: Message<T>[]; ends: SubscriptionEnd[] } {
  const seen = { messages: [] as Message<T>[], ends: [] as SubscriptionEnd[] };
  sub.on('message', (m) => seen.messages.push(m));
  sub.on('unsubscribed', (e) => seen.ends.push(e));
  return seen;
}

test('subscribe: its own events and sends; the home team keeps its own', async () => {
  const s = await server();
  const ann = record<string>(s.socketUrl, { id: 'ann', teamId: 'A' });
  const bob = record<string>(s.socketUrl, { id: 'bob', teamId: 'B' });
  await bob.client.connect();
  // Before connect: sent with the welcome.
  const b = ann.client.subscribe('B');
  const inB = watch(b);
  await ann.client.connect();
  expect(await b.ready).toMatchObject({ teamId: 'B', seq: 0 });
  expect(ann.client.subscribe('B')).toBe(b);

  await bob.client.send('to B');
  await until(() => inB.messages.length === 1);
  expect(inB.messages[0]).toMatchObject({ teamId: 'B', data: 'to B' });
  expect(ann.messages).toEqual([]);

  const ack = await b.send('from ann');
  expect(ack.seq).toBe(2);
  await until(() => bob.messages.length === 1);
  expect(bob.messages[0]).toMatchObject({ teamId: 'B', from: { id: 'ann' }, data: 'from ann' });
  expect(b.position.seq).toBe(2);

  expect((await b.presence()).map((m) => m.id).sort()).toEqual(['ann', 'bob']);
  expect((await b.history()).messages.map((m) => m.data)).toEqual(['to B', 'from ann']);
  expect((await ann.client.history()).messages).toEqual([]);

  await b.unsubscribe();
  expect(b.active).toBe(false);
  expect(inB.ends).toEqual([{ teamId: 'B', reason: 'client' }]);
  await bob.client.send('after');
  await ann.client.presence();
  expect(inB.messages).toHaveLength(1);
});

test('after a reconnect every subscription resumes: each message once, in order', async () => {
  const s = await server();
  const ann = record<number>(s.socketUrl, { id: 'ann', teamId: 'A' });
  const writers = ['B', 'C'].map((teamId) =>
    record<number>(s.socketUrl, { id: `w${teamId}`, teamId }),
  );
  for (const w of writers) await w.client.connect();
  const first = await ann.client.connect();
  const subs = ['B', 'C'].map((teamId) => ann.client.subscribe(teamId));
  const seen = subs.map(watch);
  const resumed: string[] = [];
  for (const sub of subs) {
    await sub.ready;
    sub.on('resumed', (r) => resumed.push(`${r.teamId}:${String(r.complete)}`));
  }
  for (const w of writers) await w.client.send(0);
  await until(() => seen.every((x) => x.messages.length === 1));

  const sent: Promise<unknown>[] = [];
  const off = ann.client.on('close', () => {
    off();
    for (const w of writers) for (let n = 1; n <= 10; n++) sent.push(w.client.send(n));
  });
  expect((await api(s, 'DELETE', `/api/connections/${first.connId}`)).status).toBe(204);
  await until(() => ann.opens.length === 2 && sent.length === 20);
  await Promise.all(sent);
  await until(() => seen.every((x) => x.messages.length === 11));
  for (const x of seen) expect(x.messages.map((m) => m.data)).toEqual([...Array(11).keys()]);
  expect(resumed.sort()).toEqual(['B:true', 'C:true']);
  // A send to a subscription right after the reconnect works too.
  await expect(subs[0]!.send(99)).resolves.toMatchObject({ seq: 12 });
});

test('a refused subscribe rejects ready and ends the handle', async () => {
  const s = await server({ MAX_TEAMS_PER_CONNECTION: '2' });
  const ann = record(s.socketUrl, { id: 'ann', teamId: 'A' });
  await ann.client.connect();
  await ann.client.subscribe('B').ready;
  const c = ann.client.subscribe('C');
  const ends = watch(c).ends;
  await expect(c.ready).rejects.toMatchObject({ code: 'bad_request' });
  expect(ends).toMatchObject([{ teamId: 'C', reason: 'refused' }]);
  expect(ann.client.subscriptions.map((x) => x.teamId)).toEqual(['B']);
});

test('a ban on the team ends the subscription, reason server', async () => {
  const s = await server();
  const ann = record(s.socketUrl, { id: 'ann', teamId: 'A' });
  await ann.client.connect();
  const b = ann.client.subscribe('B');
  const ends = watch(b).ends;
  await b.ready;
  await api(s, 'POST', '/api/bans', { body: { userId: 'ann', teamId: 'B' } });
  await until(() => ends.length === 1);
  expect(ends[0]).toEqual({ teamId: 'B', reason: 'server' });
  expect(ann.client.state).toBe('open');
});

test('the home team cannot be subscribed', async () => {
  const s = await server();
  const ann = record(s.socketUrl, { id: 'ann', teamId: 'A' });
  expect(() => ann.client.subscribe('A')).toThrow(TypeError);
  expect(() => ann.client.subscribe('bad team')).toThrow(TypeError);
});

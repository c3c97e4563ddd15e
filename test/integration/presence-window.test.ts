import type { Socket } from 'node:net';
import { connect, type Frame, type TestClient } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { countSocketWrites } from '../helpers/socket-writes';

/**
 * The presence window with a window long enough that nothing leaves by the timer:
 * held frames go out only when something else is sent to the team, which makes
 * what is held, and for whom, observable. The memory engine emits presence inside
 * the joining socket's setup, so the order of joins here is the order of events.
 */
let server: TestServer;
const clients: TestClient[] = [];

async function open(id: string): Promise<TestClient> {
  const client = await connect(server.socketUrl, { id, name: id, teamId: 'P' });
  clients.push(client);
  return client;
}

const joinsOf = (frames: Frame[]) =>
  frames
    .filter((f) => f.type === 'presence')
    .map((f) => `${String(f['event'])} ${(f['user'] as { id: string }).id}`);

beforeEach(async () => {
  server = await startTestServer({ RATE_LIMIT_PER_S: '0', PRESENCE_WINDOW_MS: '10000' });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

test('held frames go out before the next reply, only to connections that were there', async () => {
  const watcher = await open('w'); // its own join opens the window
  const a = await open('a'); // held
  const late = await open('late'); // held; came after a's join
  watcher.send({ type: 'ping' });
  await watcher.next('pong');
  // Both joins arrived before the pong: nothing overtakes a held frame.
  expect(watcher.frames.map((f) => f.type)).toEqual(['welcome', 'presence', 'presence', 'pong']);
  expect(joinsOf(watcher.frames)).toEqual(['join a', 'join late']);
  await a.sync();
  expect(joinsOf(a.frames)).toEqual(['join late']);
  await late.sync();
  expect(joinsOf(late.frames)).toEqual([]);
});

test('held frames due to a member reach it as one buffer, in order', async () => {
  const counts: number[] = [];
  server.running.server.on('connection', (socket: Socket) =>
    countSocketWrites(socket, counts, 'buffers'),
  );
  const watcher = await open('w');
  const a = await open('a');
  await open('b');
  await open('c');
  const [watcherBefore, aBefore] = [counts[0]!, counts[1]!];
  watcher.send({ type: 'ping' });
  await watcher.next('pong');
  expect(joinsOf(watcher.frames)).toEqual(['join a', 'join b', 'join c']);
  expect(watcher.frames.map((f) => f.type).slice(-1)).toEqual(['pong']);
  // The three held joins in one buffer, then the pong: not one buffer per join.
  expect(counts[0]! - watcherBefore).toBe(2);
  // a joined during the window: b's and c's joins (not its own) in one buffer, then the pong.
  a.send({ type: 'ping' });
  await a.next('pong');
  expect(joinsOf(a.frames)).toEqual(['join b', 'join c']);
  expect(counts[1]! - aBefore).toBe(2);
});

test("a reply releases only what is held for its own connection, not the team's", async () => {
  const counts: number[] = [];
  server.running.server.on('connection', (socket: Socket) =>
    countSocketWrites(socket, counts, 'buffers'),
  );
  const quiet = await open('q'); // its own join opens the window
  const pinger = await open('p'); // held
  const quietBefore = counts[0]!;
  for (const id of ['a', 'b', 'c']) {
    await open(id); // held
    pinger.send({ type: 'ping' });
    await pinger.next('pong');
  }
  // Each join reached the pinger ahead of its next pong...
  expect(pinger.frames.map((f) => f.type)).toEqual([
    'welcome',
    'presence',
    'pong',
    'presence',
    'pong',
    'presence',
    'pong',
  ]);
  expect(joinsOf(pinger.frames)).toEqual(['join a', 'join b', 'join c']);
  // ...and nothing reached the quiet member: the pinger's replies did not end its window.
  // The sockets are uncorked together, so a write to it would have left with the pong.
  expect(counts[0]).toBe(quietBefore);
  quiet.send({ type: 'ping' });
  await quiet.next('pong');
  // Still held, it gets all four joins in one buffer, then the pong.
  expect(joinsOf(quiet.frames)).toEqual(['join p', 'join a', 'join b', 'join c']);
  expect(counts[0]! - quietBefore).toBe(2);
});

test("a subscriber's reply releases what its subscription holds, not the team's", async () => {
  const counts: number[] = [];
  server.running.server.on('connection', (socket: Socket) =>
    countSocketWrites(socket, counts, 'buffers'),
  );
  const quiet = await open('q'); // its own join opens the window
  const subscriber = await connect(server.socketUrl, { id: 's', name: 's', teamId: 'S' });
  clients.push(subscriber);
  subscriber.send({ type: 'subscribe', teamId: 'P' }); // held: s joins P
  await subscriber.next('subscribed');
  const quietBefore = counts[0]!;
  await open('a'); // held
  await open('b'); // held
  subscriber.send({ type: 'ping' });
  await subscriber.next('pong');
  expect(joinsOf(subscriber.frames)).toEqual(['join a', 'join b']);
  expect(subscriber.frames.at(-1)?.type).toBe('pong');
  expect(counts[0]).toBe(quietBefore);
  quiet.send({ type: 'ping' });
  await quiet.next('pong');
  expect(joinsOf(quiet.frames)).toEqual(['join s', 'join a', 'join b']);
  expect(counts[0]! - quietBefore).toBe(2);
});

test('a message releases held frames ahead of itself', async () => {
  const watcher = await open('w');
  const a = await open('a');
  await open('b');
  a.send({ type: 'team', data: 'hello' });
  const message = await watcher.next('message');
  const frames = watcher.frames;
  expect(joinsOf(frames.slice(0, frames.indexOf(message)))).toEqual(['join a', 'join b']);
});

test('with PRESENCE_WINDOW_MS=0 every frame goes at once', async () => {
  await server.close();
  server = await startTestServer({ RATE_LIMIT_PER_S: '0', PRESENCE_WINDOW_MS: '0' });
  const watcher = await open('w');
  await open('a');
  await open('b');
  // No reply or message to release anything: they were sent as they happened.
  await watcher.next('presence');
  await watcher.next('presence');
  expect(joinsOf(watcher.frames)).toEqual(['join a', 'join b']);
});

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

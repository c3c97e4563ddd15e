import { sendAll } from '../helpers/client';
import { serverPerTest } from '../helpers/server-per-test';

const servers = serverPerTest();
const open = (id: string, extra: { since?: number; epoch?: string } = {}) =>
  servers.open(id, extra);

test('a client that comes back with since gets what it missed, then resumed, then live', async () => {
  await servers.start({ RATE_LIMIT_PER_S: '0' });
  const sender = await open('s');
  const reader = await open('r');
  await sendAll(sender, ['seen']);
  const seen = await reader.next('message');
  const epoch = reader.welcome['epoch'] as string;
  await reader.close();

  await sendAll(sender, ['m2', 'm3', 'm4']);
  const back = await open('r', { since: seen['seq'] as number, epoch });
  const replay = [await back.next(), await back.next(), await back.next()];
  expect(replay.map((f) => [f['type'], f['seq'], f['data']])).toEqual([
    ['message', 2, 'm2'],
    ['message', 3, 'm3'],
    ['message', 4, 'm4'],
  ]);
  expect(await back.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 1,
    seq: 4,
    complete: true,
  });
  await sendAll(sender, ['live']);
  expect(await back.next()).toMatchObject({ type: 'message', seq: 5, data: 'live' });
});

test('no gap and no duplicate while messages keep flowing during the resume', async () => {
  await servers.start({ RATE_LIMIT_PER_S: '0' });
  const sender = await open('s');
  await sendAll(sender, [0, 1, 2, 3, 4]);
  const epoch = sender.welcome['epoch'] as string;
  // Publish continuously while the reader reconnects with since=2.
  for (let i = 5; i < 200; i++) sender.send({ type: 'team', data: i });
  const back = await open('r', { since: 2, epoch });
  for (let i = 5; i < 200; i++) await sender.next('ack');
  await back.sync();
  const frames = back.frames.filter((f) => f.type !== 'pong' && f.type !== 'welcome');
  const resumedAt = frames.findIndex((f) => f.type === 'resumed');
  expect(resumedAt).toBeGreaterThanOrEqual(0);
  expect(frames[resumedAt]).toMatchObject({ complete: true });
  const seqs = frames.filter((f) => f.type === 'message').map((f) => f['seq']);
  expect(seqs).toEqual(Array.from({ length: 198 }, (_, i) => i + 3));
});

test("replay leaves out other users' direct messages", async () => {
  await servers.start();
  const sender = await open('s');
  const epoch = sender.welcome['epoch'] as string;
  sender.send({ type: 'direct', to: 'r', data: 'for r' });
  sender.send({ type: 'direct', to: 'x', data: 'for x' });
  sender.send({ type: 'team', data: 'all' });
  for (let i = 0; i < 3; i++) await sender.next('ack');
  const back = await open('r', { since: 0, epoch });
  expect((await back.next())['data']).toBe('for r');
  expect((await back.next())['data']).toBe('all');
  expect(await back.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 0,
    seq: 3,
    complete: true,
  });
});

test('complete is false when messages after since are no longer retained', async () => {
  await servers.start({ HISTORY_SIZE: '3' });
  const sender = await open('s');
  const epoch = sender.welcome['epoch'] as string;
  await sendAll(sender, [1, 2, 3, 4, 5, 6]);
  const back = await open('r', { since: 1, epoch });
  const frames = [await back.next(), await back.next(), await back.next(), await back.next()];
  expect(frames.slice(0, 3).map((f) => f['seq'])).toEqual([4, 5, 6]);
  expect(frames[3]).toEqual({ type: 'resumed', teamId: 'A', since: 1, seq: 6, complete: false });
});

test('complete is false and nothing is replayed when the epoch changed', async () => {
  await servers.start();
  const sender = await open('s');
  await sendAll(sender, [1, 2]);
  const back = await open('r', { since: 1, epoch: 'another-epoch' });
  expect(await back.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 1,
    seq: 2,
    complete: false,
  });
});

test('a history reset (new process) shows as a new epoch', async () => {
  await servers.start();
  const first = await open('s');
  const oldEpoch = first.welcome['epoch'];
  await servers.close();
  await servers.start();
  const again = await open('s', { since: 5, epoch: oldEpoch as string });
  expect(again.welcome['epoch']).not.toBe(oldEpoch);
  expect(await again.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 5,
    seq: 0,
    complete: false,
  });
});

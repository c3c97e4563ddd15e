import pino from 'pino';
import WebSocket from 'ws';
import { createMemoryEngine } from '../../app/memory-engine';
import { ABUSE_THRESHOLD } from '../../routes/socket';
import { AppError } from '../../services/errors';
import { underlyingSocket } from '../../services/socket/ws-frame';
import { socketUrl, TestClient, refusedHandshake } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { api, type TestServer } from '../helpers/server';
import { serverPerTest } from '../helpers/server-per-test';

let server: TestServer;
const servers = serverPerTest();
const open = (id: string, teamId = 'A', options: WebSocket.ClientOptions = {}) =>
  servers.open(id, { teamId }, options);

test('a burst past the rate limit gets rate_limited and the messages are dropped', async () => {
  server = await servers.start({ RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '3' });
  const a = await open('u1');
  const mate = await open('u2');
  for (let i = 0; i < 5; i++) a.send({ type: 'team', data: i, ref: `r${i}` });
  // Refusals are immediate and acks wait for storage, so they may interleave.
  const answered = () => a.frames.filter((f) => f.type === 'ack' || f.type === 'error');
  await eventually(() => answered().length === 5);
  expect(a.frames.filter((f) => f.type === 'ack').map((f) => f['ref'])).toEqual(['r0', 'r1', 'r2']);
  const errors = a.frames.filter((f) => f.type === 'error');
  expect(errors).toHaveLength(2);
  for (const e of errors) expect(e).toMatchObject({ type: 'error', code: 'rate_limited' });
  const delivered = [
    await mate.next('message'),
    await mate.next('message'),
    await mate.next('message'),
  ];
  expect(delivered.map((m) => m['data'])).toEqual([0, 1, 2]);
  expect(a.closed).toBeUndefined();
});

test('a client that keeps flooding is closed with 1008', async () => {
  server = await servers.start({ RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '1' });
  const a = await open('u1');
  for (let i = 0; i < ABUSE_THRESHOLD + 5; i++) a.send('spam');
  expect((await a.waitClose()).code).toBe(1008);
});

test('a frame larger than MAX_MESSAGE_BYTES closes the socket with 1009', async () => {
  server = await servers.start({ MAX_MESSAGE_BYTES: '1024' });
  const a = await open('u1');
  const mate = await open('u2');
  a.send({ type: 'team', data: 'x'.repeat(900) });
  await a.next('ack');
  a.send({ type: 'team', data: 'x'.repeat(2000) });
  expect((await a.waitClose()).code).toBe(1009);
  await mate.next('message');
  await mate.sync();
  expect(mate.take('message')).toEqual([]);
});

test('a peer that stops answering pings is dropped and leaves presence', async () => {
  // 1 s, not 100 ms: server and clients share this process, and a stall of the loop
  // longer than a beat made the server drop the watcher too (its pong not read yet).
  const beatMs = 1000;
  server = await servers.start({ HEARTBEAT_MS: String(beatMs) });
  const watcher = await open('w');
  const silent = await open('mute', 'A', { autoPong: false });
  await watcher.next('presence');
  expect(await watcher.next('presence', 10 * beatMs)).toMatchObject({
    event: 'leave',
    user: { id: 'mute' },
  });
  expect((await silent.waitClose(10 * beatMs)).code).toBe(1006);
  // A client that answers stays, beat after beat.
  expect(watcher.closed).toBeUndefined();
});

test('the heartbeat reaches every connection when it pings them a slice at a time', async () => {
  // Server and clients share this process: a beat judges a connection dead when its
  // pong is not read by the next beat, so the beat must be long against the stalls a
  // loaded machine gives (100 ms was not). Two beats still settle in seconds.
  const beatMs = 1000;
  server = await servers.start({ HEARTBEAT_MS: String(beatMs) });
  // More connections than one slice of the beat (256), the silent ones at the end. One
  // user's: 300 users would each announce a join to all the others, ~45,000 presence
  // frames that stall the loop and are not what this checks. Opened a batch at a
  // time, so no welcome waits behind hundreds of handshakes.
  const live: TestClient[] = [];
  for (let i = 0; i < 300; i += 50) {
    live.push(...(await Promise.all(Array.from({ length: 50 }, () => open('many', 'B')))));
  }
  const silent = await Promise.all(
    Array.from({ length: 5 }, (_, i) => open(`mute${i}`, 'B', { autoPong: false })),
  );
  for (const s of silent) expect((await s.waitClose(5 * beatMs)).code).toBe(1006);
  let pinged = 0;
  for (const c of live) c.ws.once('ping', () => pinged++);
  await eventually(() => pinged === live.length, 5 * beatMs);
  expect(live.every((c) => c.closed === undefined)).toBe(true);
}, 30000);

test('a slow consumer is closed with 4008 and the sender is not held up', async () => {
  server = await servers.start({
    RATE_LIMIT_PER_S: '0',
    MAX_MESSAGE_BYTES: String(1024 * 1024),
    MAX_BUFFERED_BYTES: String(64 * 1024),
  });
  const sender = await open('s');
  const slow = await open('slow');
  slow.ws.pause();
  const chunk = 'x'.repeat(512 * 1024);
  // Enough to fill the kernel's socket buffers on loopback, then the server's.
  for (let i = 0; i < 80; i++) sender.send({ type: 'team', data: chunk });
  for (let i = 0; i < 80; i++) await sender.next('ack');
  slow.ws.resume();
  expect((await slow.waitClose(20000)).code).toBe(4008);
  expect(sender.closed).toBeUndefined();
}, 30000);

test('a burst larger than MAX_BUFFERED_BYTES to a client that reads is not a slow consumer', async () => {
  server = await servers.start({ RATE_LIMIT_PER_S: '0', MAX_BUFFERED_BYTES: '4096' });
  const sender = await open('s');
  const reader = await open('reader');
  const count = 100;
  // One write from the sender, so the server takes the frames, and writes their
  // deliveries, in as few turns as it can: about 100 KiB to the reader per turn.
  const raw = underlyingSocket(sender.ws);
  raw.cork();
  for (let i = 0; i < count; i++) sender.send({ type: 'team', data: `${i}:${'x'.repeat(1024)}` });
  raw.uncork();
  for (let i = 0; i < count; i++) await sender.next('ack');
  const seen: number[] = [];
  for (let i = 0; i < count; i++) seen.push((await reader.next('message'))['seq'] as number);
  expect(seen).toHaveLength(count);
  await reader.sync();
  expect(reader.closed).toBeUndefined();
});

test('while a backend is down the sender hears unavailable, with its ref, and nothing is published', async () => {
  let down = false;
  server = await servers.start({}, (config) => {
    const engine = createMemoryEngine(config, pino({ level: 'silent' }));
    const publish = engine.bus.publish.bind(engine.bus);
    engine.bus.publish = async (draft) => {
      if (down) throw new AppError('unavailable', 'redis is down');
      return publish(draft);
    };
    return engine;
  });
  const a = await open('u1');
  const mate = await open('u2');
  down = true;
  a.send({ type: 'team', data: 'lost?', ref: 'k1' });
  expect(await a.next('error')).toEqual({
    type: 'error',
    code: 'unavailable',
    message: 'redis is down',
    ref: 'k1',
  });
  const viaApi = await api(server, 'POST', '/api/teams/A/messages', { body: { data: 'x' } });
  expect(viaApi.status).toBe(503);
  down = false;
  // The retry with the same ref is accepted: a failure is not remembered.
  a.send({ type: 'team', data: 'lost?', ref: 'k1' });
  expect(await a.next('ack')).toMatchObject({ ref: 'k1', seq: 1 });
  expect((await mate.next('message'))['seq']).toBe(1);
});

describe('shutdown', () => {
  test('ready turns 503, new handshakes get 503, sockets close with 1001, close() resolves', async () => {
    server = await servers.start({ DRAIN_DELAY_MS: '1500' });
    const a = await open('u1');
    const closing = server.close();
    const ready = await api(server, 'GET', '/api/ready', { token: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'draining' });
    const { status } = await refusedHandshake(
      socketUrl(server.socketUrl, { id: 'u2', teamId: 'A' }),
    );
    expect(status).toBe(503);
    expect((await a.waitClose()).code).toBe(1001);
    await closing;
    // Idempotent: a second close resolves too.
    await server.close();
  });

  test('a peer that ignores the close frame does not hold shutdown forever', async () => {
    server = await servers.start();
    const ws = new WebSocket(socketUrl(server.socketUrl, { id: 'u1', teamId: 'A' }));
    const client = new TestClient(ws);
    servers.keep(client);
    await client.next('welcome');
    ws.pause();
    await server.close();
    ws.resume();
    // The close frame was written before the server cut the connection.
    expect((await client.waitClose()).code).toBe(1001);
  });
});

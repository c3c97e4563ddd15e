import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import pino from 'pino';
import WebSocket from 'ws';
import { MemoryBus } from '../../services/memory/bus';
import { MemoryHistory } from '../../services/memory/history';
import { MemoryPresence } from '../../services/memory/presence';
import { MemoryStore } from '../../services/memory/store';
import { Messaging } from '../../services/messaging';
import { createMetrics } from '../../services/metrics';
import { Hub } from '../../services/socket/hub';
import {
  ABUSE_THRESHOLD,
  Session,
  type SessionDeps,
  type SessionOpening,
} from '../../services/socket/session';
import type { Frame } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { RedisPresence } from '../../services/redis/presence';

/**
 * The Session on the memory engine's real services, driven through a stand-in for
 * the ws socket: no server, no network. What the session writes is read back from
 * the TCP socket under the stand-in, where the hub puts finished frames.
 */

/** The TCP socket under the stand-in: it keeps each frame the hub writes. */
class RecordingSocket extends Socket {
  readonly written: Buffer[] = [];

  override write(chunk: Uint8Array | string): boolean {
    this.written.push(Buffer.from(chunk));
    return true;
  }
}

/** Decodes an unmasked server text frame (ws-frame.ts builds them). */
function decode(frame: Buffer): Frame {
  const length = frame[1]! & 0x7f;
  const header = length < 126 ? 2 : length === 126 ? 4 : 10;
  const value: unknown = JSON.parse(frame.subarray(header).toString('utf8'));
  return value as Frame;
}

/** The few ws members a Session uses, recording what the server does with them. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  /** Where underlyingSocket finds the TCP socket of a real ws socket. */
  readonly _socket = new RecordingSocket();
  /** The code of the server's close(), once it called it. */
  closedWith: number | undefined;

  close(code = 1005): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.closedWith = code;
    this.readyState = WebSocket.CLOSING;
    // ws reports the close once the closing handshake is over, never inside close().
    setImmediate(() => this.closed(code));
  }

  terminate(): void {
    this.closedWith ??= 1006;
    setImmediate(() => this.closed(1006));
  }

  ping(): void {}

  /** The client sends a text frame. */
  text(text: string): void {
    this.emit('message', Buffer.from(text), false);
  }

  json(frame: Record<string, unknown>): void {
    this.text(JSON.stringify(frame));
  }

  /** The client closes the connection. */
  hangUp(code = 1000): void {
    this.closed(code);
  }

  frames(): Frame[] {
    return this._socket.written.map(decode);
  }

  /** Waits until the server has written `count` frames, and returns them. */
  async settle(count: number): Promise<Frame[]> {
    return eventually(() => this.frames().length >= count && this.frames());
  }

  /** Waits for the server's frames of one type until there are `count`. */
  async of(type: string, count = 1): Promise<Frame[]> {
    return eventually(() => {
      const found = this.frames().filter((f) => f.type === type);
      return found.length >= count && found;
    });
  }

  private closed(code: number): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.emit('close', code, Buffer.alloc(0));
  }
}

const TEAM = 'T';

function memoryServices(
  overrides: Partial<SessionDeps> = {},
  isBanned?: (userId: string, teamId: string) => boolean,
): SessionDeps {
  const log = pino({ level: 'silent' });
  const metrics = createMetrics();
  const history = new MemoryHistory({ retain: 100 });
  const bus = new MemoryBus(history, { idempotencyTtlMs: 60_000 });
  const hub = new Hub({
    maxBufferedBytes: 1 << 20,
    heartbeatMs: 60_000,
    presenceWindowMs: 0,
    metrics,
    log,
    ...(isBanned ? { isBanned } : {}),
  });
  bus.listen(hub);
  return {
    nodeId: 'n1',
    heartbeatMs: 25_000,
    rateLimitPerS: 0,
    rateLimitBurst: 0,
    resumeMaxMessages: 10_000,
    maxTeamsPerConnection: 100,
    hub,
    bus,
    history,
    presence: new MemoryPresence(),
    store: new MemoryStore(),
    messaging: new Messaging(bus, metrics),
    metrics,
    log,
    ...overrides,
  };
}

interface Running {
  socket: FakeSocket;
  session: Session;
  /** Resolves once the session has cleaned up after the close. */
  life: Promise<void>;
}

/** Starts a session; its welcome is not awaited (see `join`). */
function start(deps: SessionDeps, id: string, params: Partial<SessionOpening['params']> = {}) {
  const socket = new FakeSocket();
  const session = new Session(deps, socket, {
    params: { id, name: `name-${id}`, teamId: TEAM, ...params },
    ip: '10.0.0.1',
  });
  session.run();
  const running: Running = { socket, session, life: session.ended() };
  return running;
}

/** Starts a session and waits for its welcome. */
async function join(deps: SessionDeps, id: string): Promise<Running> {
  const running = start(deps, id);
  await running.socket.settle(1);
  return running;
}

let deps: SessionDeps;
const sockets: FakeSocket[] = [];

beforeEach(() => {
  deps = memoryServices();
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.hangUp();
});

function track(running: Running): Running {
  sockets.push(running.socket);
  return running;
}

test('the welcome is the first frame and carries the team head', async () => {
  const { socket, session } = track(await join(deps, 'u1'));
  const [welcome] = socket.frames();
  expect(welcome).toEqual({
    type: 'welcome',
    connId: session.info.connId,
    user: { id: 'u1', name: 'name-u1' },
    teamId: TEAM,
    seq: 0,
    epoch: (await deps.history.head(TEAM)).epoch,
    heartbeatMs: 25_000,
  });
  expect(await deps.presence.members(TEAM)).toEqual([
    { id: 'u1', name: 'name-u1', connections: 1 },
  ]);
});

test('a bad frame gets an error frame and the session lives on', async () => {
  const { socket } = track(await join(deps, 'u1'));
  socket.json({ type: 'nope' });
  socket.text('{"type":"team",');
  socket.emit('message', Buffer.from([1, 2, 3]), true);
  socket.json({ type: 'ping' });
  const [, ...replies] = await socket.settle(5);
  expect(replies).toEqual([
    { type: 'error', code: 'bad_request', message: 'unknown frame type "nope"' },
    { type: 'error', code: 'bad_request', message: 'malformed JSON' },
    {
      type: 'error',
      code: 'bad_request',
      message: 'binary frames are not supported; send text',
    },
    { type: 'pong' },
  ]);
  expect(socket.closedWith).toBeUndefined();
});

test('a team message is acked to its sender and delivered to the rest of the team', async () => {
  const a = track(await join(deps, 'u1'));
  const b = track(await join(deps, 'u2'));
  a.socket.json({ type: 'team', data: { n: 1 }, ref: 'r1' });
  const [ack] = await a.socket.of('ack');
  expect(ack).toEqual({ type: 'ack', ref: 'r1', id: expect.any(String), seq: 1 });
  expect(await b.socket.of('message')).toEqual([
    {
      type: 'message',
      id: ack!['id'],
      seq: 1,
      teamId: TEAM,
      from: { id: 'u1', name: 'name-u1' },
      data: { n: 1 },
      ts: expect.any(Number),
    },
  ]);
  // The same ref again: the first ack, and nothing published.
  a.socket.json({ type: 'team', data: { n: 2 }, ref: 'r1' });
  a.socket.json({ type: 'ping' });
  await a.socket.of('pong');
  expect(await a.socket.of('ack', 2)).toEqual([ack, ack]);
  expect(b.socket.frames().filter((f) => f.type === 'message')).toHaveLength(1);
  // The sender's socket never gets its own message back.
  expect(a.socket.frames().filter((f) => f.type === 'message')).toEqual([]);
});

test('text that is not a JSON object is a team message of that text', async () => {
  const a = track(await join(deps, 'u1'));
  const b = track(await join(deps, 'u2'));
  a.socket.text('消息发送');
  expect(await a.socket.of('ack')).toMatchObject([{ seq: 1 }]);
  expect(await b.socket.of('message')).toMatchObject([{ data: '消息发送' }]);
});

test('ping gets pong; a read sees exactly the messages sent before it', async () => {
  const { socket } = track(await join(deps, 'u1'));
  socket.json({ type: 'ping' });
  socket.json({ type: 'team', data: 'first' });
  socket.json({ type: 'history' });
  socket.json({ type: 'team', data: 'second' });
  socket.json({ type: 'presence' });
  const [, pong, ack, history, later, members] = await socket.settle(6);
  expect(pong).toEqual({ type: 'pong' });
  expect(ack).toMatchObject({ type: 'ack', seq: 1 });
  expect(later).toMatchObject({ type: 'ack', seq: 2 });
  expect(history).toMatchObject({
    type: 'history',
    teamId: TEAM,
    messages: [{ seq: 1, data: 'first' }],
    more: false,
  });
  expect(members).toEqual({
    type: 'members',
    teamId: TEAM,
    members: [{ id: 'u1', name: 'name-u1', connections: 1 }],
  });
});

test('close cleans up: presence, the hub, and a leave to the rest of the team', async () => {
  const a = await join(deps, 'u1');
  const b = track(await join(deps, 'u2'));
  expect(await a.socket.settle(2)).toContainEqual(
    expect.objectContaining({
      type: 'presence',
      event: 'join',
      user: { id: 'u2', name: 'name-u2' },
    }),
  );
  a.socket.hangUp(1001);
  await a.life;
  expect(await deps.presence.members(TEAM)).toEqual([
    { id: 'u2', name: 'name-u2', connections: 1 },
  ]);
  expect(await deps.presence.get(a.session.info.connId)).toBeUndefined();
  expect(deps.hub.size).toBe(1);
  expect((await b.socket.settle(2))[1]).toEqual({
    type: 'presence',
    event: 'leave',
    teamId: TEAM,
    user: { id: 'u1', name: 'name-u1' },
  });
});

test('frames sent before the welcome are handled after it, in order', async () => {
  const { socket } = track(start(deps, 'u1'));
  // Still in set-up: these wait, so the message is published after the welcome's head was read.
  socket.json({ type: 'team', data: 'early', ref: 'e1' });
  socket.json({ type: 'ping' });
  socket.json({ type: 'nope' });
  const frames = await socket.settle(4);
  expect(frames.map((f) => f.type)).toEqual(['welcome', 'ack', 'pong', 'error']);
  expect(frames[0]).toMatchObject({ seq: 0 });
  expect(frames[1]).toMatchObject({ ref: 'e1', seq: 1 });
});

test('a socket closed during set-up is cleaned up once set-up ends, and hears nothing', async () => {
  const { socket, session, life } = start(deps, 'u1');
  socket.json({ type: 'team', data: 'never' });
  socket.hangUp();
  await life;
  expect(socket.frames()).toEqual([]);
  expect(await deps.presence.members(TEAM)).toEqual([]);
  expect(await deps.presence.get(session.info.connId)).toBeUndefined();
  expect(deps.hub.size).toBe(0);
  expect((await deps.history.head(TEAM)).seq).toBe(0);
});

test('a ban that lands after the handshake check closes with 4003 and announces nobody', async () => {
  deps = memoryServices({}, (userId) => userId === 'banned');
  const mate = track(await join(deps, 'mate'));
  const { socket, session, life } = start(deps, 'banned');
  await life;
  expect(socket.closedWith).toBe(4003);
  expect(socket.frames()).toEqual([]);
  expect(await deps.presence.get(session.info.connId)).toBeUndefined();
  // A round trip on the mate's socket: anything sent about the banned user came before the pong.
  mate.socket.json({ type: 'ping' });
  await mate.socket.of('pong');
  expect(mate.socket.frames().filter((f) => f.type === 'presence')).toEqual([]);
});

test('past the rate limit a frame is refused after earlier acks, and a flood is cut off', async () => {
  // One token, and the next one ages away: no refill can land inside the test.
  deps = memoryServices({ rateLimitPerS: 0.001, rateLimitBurst: 1 });
  const { socket } = track(await join(deps, 'u1'));
  socket.json({ type: 'team', data: 'kept', ref: 'k' });
  socket.json({ type: 'team', data: 'dropped', ref: 'd' });
  const [, ack, refused] = await socket.settle(3);
  expect(ack).toMatchObject({ type: 'ack', ref: 'k', seq: 1 });
  expect(refused).toEqual({
    type: 'error',
    code: 'rate_limited',
    message: 'rate limit exceeded; message dropped',
  });
  expect(socket.closedWith).toBeUndefined();
  for (let i = 1; i < ABUSE_THRESHOLD; i++) socket.text('spam');
  expect(socket.closedWith).toBe(1008);
  expect((await deps.history.head(TEAM)).seq).toBe(1);
});

describe('a ban while a subscribe runs', () => {
  test('answers unsubscribed, never subscribed, and leaves no presence entry', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const subscribe = deps.bus.subscribe.bind(deps.bus);
    deps.bus.subscribe = async (teamId) => {
      if (teamId === 'S') await gate;
      return subscribe(teamId);
    };
    const { socket } = track(await join(deps, 'u1'));
    socket.json({ type: 'subscribe', teamId: 'S' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(deps.hub.closeBanned('u1', 'S')).toBe(1);
    release();
    const [, reply] = await socket.settle(2);
    expect(reply).toEqual({ type: 'unsubscribed', teamId: 'S' });
    socket.json({ type: 'ping' });
    await socket.of('pong');
    expect(socket.frames().some((f) => f['type'] === 'subscribed')).toBe(false);
    expect(await deps.presence.members('S')).toEqual([]);
  });
});

describeWithRedis('a ban while a subscription is being counted in Redis presence', () => {
  const redis = useRedisServer();

  test('the count goes back to zero: the next subscriber of that user is a join', async () => {
    const presence = new RedisPresence(await redis.client('command'), freshKeys(), {
      nodeId: 'n1',
      leaseMs: 10_000,
      announce: async () => undefined,
      log: pino({ level: 'silent' }),
    });
    const redisDeps = memoryServices({ presence });
    const { hub } = redisDeps;
    // The ban lands while the subscription's entry is on its way to Redis.
    const add = presence.add.bind(presence);
    presence.add = (conn) => {
      const adding = add(conn);
      if (conn.teamId === 'S') hub.closeBanned('u1', 'S');
      return adding;
    };
    const { socket } = track(await join(redisDeps, 'u1'));
    socket.json({ type: 'subscribe', teamId: 'S' });
    await socket.of('unsubscribed');
    socket.json({ type: 'ping' });
    await socket.of('pong');
    presence.add = add;
    const other = { connId: 'other@S', userId: 'u1', name: 'n', teamId: 'S', node: 'n1' };
    expect(
      await presence.add({ ...other, ip: '10.0.0.1', connectedAt: new Date().toISOString() }),
    ).toEqual({ first: true });
  });
});

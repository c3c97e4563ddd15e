/**
 * docs/PROTOCOL.md §6: a replay holds at most a page in memory, waits for the socket to
 * drain between writes, and stops after RESUME_MAX_MESSAGES with complete:false.
 * Live messages that arrive meanwhile wait in a queue bounded by MAX_BUFFERED_BYTES.
 * The `redis` jest project runs this file on the Redis engine too (the tests that
 * wrap a memory engine's history run on memory there as well).
 */
import pino from 'pino';
import WebSocket from 'ws';
import { createMemoryEngine } from '../../app/memory-engine';
import { REPLAY_PAGE_SIZE, type Replay, type ReplayRequest } from '../../services/history';
import { sendAll, socketUrl, TestClient, type Frame } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { api } from '../helpers/server';
import { serverPerTest } from '../helpers/server-per-test';

const servers = serverPerTest();
const open = (id: string, extra: { since?: number; epoch?: string } = {}) =>
  servers.open(id, extra);

/**
 * A sender who has sent every item of `data` (all stored), and the epoch to resume in.
 * `delivered`: also wait until a teammate got them all live, so none is still on its
 * way to this node (on Redis, pub/sub copies lag the acks).
 */
async function senderAfter(
  data: unknown[],
  { delivered = false } = {},
): Promise<{ sender: TestClient; epoch: string }> {
  const watcher = delivered ? await open('w') : undefined;
  const sender = await open('s');
  await sendAll(sender, data);
  if (watcher) {
    let seen = 0;
    while (seen < data.length) if ((await watcher.next()).type === 'message') seen++;
  }
  return { sender, epoch: sender.welcome['epoch'] as string };
}

/** The next `count` frames, which must all be messages. */
async function messages(client: TestClient, count: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for (let i = 0; i < count; i++) out.push(await client.next());
  expect(out.every((f) => f.type === 'message')).toBe(true);
  return out;
}

const seqsFrom = (first: number, count: number) =>
  Array.from({ length: count }, (_, i) => first + i);

test('a resume past RESUME_MAX_MESSAGES gets exactly the cap, then complete:false, then live', async () => {
  await servers.start({ RATE_LIMIT_PER_S: '0', RESUME_MAX_MESSAGES: '250' });
  const { sender, epoch } = await senderAfter(Array.from({ length: 600 }, (_, i) => i + 1));
  const back = await open('r', { since: 0, epoch });
  const replayed = await messages(back, 250);
  expect(replayed.map((f) => f['seq'])).toEqual(seqsFrom(1, 250));
  // seq is the head the replay started from: live messages go on after it.
  expect(await back.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 0,
    seq: 600,
    complete: false,
  });
  await sendAll(sender, ['live']);
  expect(await back.next()).toMatchObject({ type: 'message', seq: 601, data: 'live' });
});

test('a resume of exactly RESUME_MAX_MESSAGES is complete', async () => {
  await servers.start({ RATE_LIMIT_PER_S: '0', RESUME_MAX_MESSAGES: '250' });
  const { epoch } = await senderAfter(Array.from({ length: 260 }, (_, i) => i + 1));
  const back = await open('r', { since: 10, epoch });
  expect((await messages(back, 250)).map((f) => f['seq'])).toEqual(seqsFrom(11, 250));
  expect(await back.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 10,
    seq: 260,
    complete: true,
  });
});

test('a replay much larger than MAX_BUFFERED_BYTES reaches a client that reads it', async () => {
  // All at once this replay is ~600 KiB: written in one go it would be cut as a slow consumer.
  await servers.start({
    RATE_LIMIT_PER_S: '0',
    MAX_BUFFERED_BYTES: String(64 * 1024),
  });
  const chunk = 'x'.repeat(2048);
  // Live copies of the 300 still arriving would wait in the pending queue, which has
  // the same bound; this test is about the replay's pace alone.
  const { epoch } = await senderAfter(
    Array.from({ length: 300 }, () => chunk),
    { delivered: true },
  );
  const back = await open('r', { since: 0, epoch });
  expect((await messages(back, 300)).map((f) => f['seq'])).toEqual(seqsFrom(1, 300));
  expect(await back.next()).toEqual({
    type: 'resumed',
    teamId: 'A',
    since: 0,
    seq: 300,
    complete: true,
  });
  expect(back.closed).toBeUndefined();
});

test('a client that stops reading during a large replay is closed with 4008, not buffered', async () => {
  await servers.start({
    RATE_LIMIT_PER_S: '0',
    MAX_BUFFERED_BYTES: String(128 * 1024),
  });
  // ~36 MB of history: more than the kernel's socket buffers on loopback hold.
  const chunk = 'x'.repeat(60_000);
  const total = 600;
  const { sender, epoch } = await senderAfter(Array.from({ length: total }, () => chunk));
  const ws = new WebSocket(
    socketUrl(servers.server.socketUrl, { id: 'slow', teamId: 'A', since: 0, epoch }),
  );
  // Paused before the welcome is read: the client takes nothing the server writes.
  ws.once('open', () => ws.pause());
  const slow = servers.keep(new TestClient(ws));
  await eventually(() => servers.server.app.hub.size === 2);
  // Live messages queue behind the stalled replay until the bound closes the connection.
  await sendAll(sender, [chunk, chunk, chunk]);
  await eventually(() => servers.server.logs.some((l) => l.includes('slow consumer closed')));
  ws.resume();
  expect((await slow.waitClose(20000)).code).toBe(4008);
  // The server stopped where the client stopped reading: not the whole history, no resumed.
  const got = slow.frames.filter((f) => f.type === 'message').length;
  expect(got).toBeLessThan(total);
  expect(slow.frames.some((f) => f.type === 'resumed')).toBe(false);
  expect(sender.closed).toBeUndefined();
}, 60000);

describe('over a wrapped history', () => {
  /** A memory engine whose history notes every replay page and can hold one back. */
  async function wrappedServer(env: Record<string, string>) {
    const calls: { request: ReplayRequest; page: Replay }[] = [];
    let gate: Promise<void> | undefined;
    await servers.start(env, (config) => {
      const engine = createMemoryEngine(config, pino({ level: 'silent' }));
      const replay = engine.history.replay.bind(engine.history);
      engine.history.replay = async (teamId, request) => {
        if (gate) await gate;
        const page = await replay(teamId, request);
        calls.push({ request, page });
        return page;
      };
      return engine;
    });
    return {
      calls,
      hold: () => {
        let release = (): void => undefined;
        gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        return () => {
          gate = undefined;
          release();
        };
      },
    };
  }

  test('the replay reads the history a page at a time, up to the head it started from', async () => {
    const { calls } = await wrappedServer({ RATE_LIMIT_PER_S: '0' });
    const total = REPLAY_PAGE_SIZE * 2 + 50;
    const { epoch } = await senderAfter(Array.from({ length: total }, (_, i) => i + 1));
    const back = await open('r', { since: 0, epoch });
    expect((await messages(back, total)).map((f) => f['seq'])).toEqual(seqsFrom(1, total));
    expect(await back.next()).toEqual({
      type: 'resumed',
      teamId: 'A',
      since: 0,
      seq: total,
      complete: true,
    });
    expect(calls.length).toBe(3);
    for (const { request, page } of calls) {
      expect(request.limit).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
      expect(page.read).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
      expect(request).toMatchObject({ until: total, epoch, viewer: 'r' });
    }
    expect(calls.map((c) => c.request.since)).toEqual([0, REPLAY_PAGE_SIZE, REPLAY_PAGE_SIZE * 2]);
  });

  test('live messages queued behind a replay that cannot go on are bounded: 4008', async () => {
    const { hold } = await wrappedServer({
      RATE_LIMIT_PER_S: '0',
      MAX_BUFFERED_BYTES: String(8 * 1024),
    });
    const sender = await open('s');
    const epoch = sender.welcome['epoch'] as string;
    await sendAll(sender, ['before']);
    const release = hold();
    try {
      const back = await open('r', { since: 0, epoch });
      // The replay is held: every live message waits in the connection's queue.
      const chunk = 'y'.repeat(1024);
      for (let i = 0; i < 20; i++) {
        const res = await api(servers.server, 'POST', '/api/teams/A/messages', {
          body: { data: chunk },
        });
        expect(res.status).toBe(201);
      }
      expect((await back.waitClose()).code).toBe(4008);
    } finally {
      release();
    }
  });
});

import { Socket } from 'node:net';
import fc from 'fast-check';
import pino from 'pino';
import WebSocket from 'ws';
import { epochAt } from '../../services/epoch';
import { encodeFrame } from '../../services/frames';
import { createMetrics } from '../../services/metrics';
import { Hub, LocalConnection } from '../../services/socket/hub';
import type { PeerSocket } from '../../services/socket/peer-socket';
import { textFrame } from '../../services/socket/ws-frame';
import { eventually } from '../helpers/eventually';
import { hubPerTest, teamDelivery } from '../helpers/hub-per-test';
import { countSocketWrites } from '../helpers/socket-writes';

/**
 * What a release of held presence frames hands each member (Hub.releasePresence):
 * the frames held after it joined, less those about its own user, each run of
 * consecutive ones as one buffer. The window is long enough that only a message or
 * a reply releases the frames. The first test runs on real sockets (a ws server on
 * port 0); the second checks random interleavings of joins and events against the
 * rule, on sockets that record what the hub writes.
 */
const TEAM = 'T';
const E1 = epochAt(1_000_000);

const rig = hubPerTest({ presenceWindowMs: 60_000 });

interface Member {
  conn: LocalConnection;
  frames: string[];
}

async function member(userId: string, buffers: number[]): Promise<Member> {
  const { conn, client } = await rig.join({ connId: `c-${userId}`, userId, teamId: TEAM });
  rig.hub.flush(conn, E1, 0);
  countSocketWrites(conn.raw, buffers, 'buffers');
  const frames: string[] = [];
  client.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as {
      type: string;
      event?: string;
      user?: { id: string };
    };
    frames.push(frame.type === 'presence' ? `${frame.event} ${frame.user?.id}` : frame.type);
  });
  return { conn, frames };
}

function presence(event: 'join' | 'leave', userId: string): void {
  rig.hub.event({ kind: 'presence', teamId: TEAM, event, user: { id: userId, name: userId } });
}

test('each member gets the held frames due to it, a run of them per buffer', async () => {
  const buffers: number[] = [];
  const w = await member('w', buffers);
  const a = await member('a', buffers);
  presence('join', 'x'); // at once; opens the window
  presence('join', 'a'); // held: not to a
  presence('join', 'late'); // held before late joined: not to late
  const late = await member('late', buffers);
  presence('join', 'y');
  presence('leave', 'a'); // not to a: splits its run
  presence('join', 'z');
  rig.hub.message(teamDelivery(TEAM, E1, 1));
  await eventually(() => [w, a, late].every((m) => m.frames.at(-1) === 'message'));

  expect(w.frames).toEqual([
    'join x',
    'join a',
    'join late',
    'join y',
    'leave a',
    'join z',
    'message',
  ]);
  expect(a.frames).toEqual(['join x', 'join late', 'join y', 'join z', 'message']);
  expect(late.frames).toEqual(['join y', 'leave a', 'join z', 'message']);
  // w: x, the five held in one buffer, the message. a: x, two runs, the message.
  // late: one run, the message.
  expect(buffers).toEqual([3, 4, 2]);
});

/** A connection whose socket records the buffers the hub writes to it, without a peer. */
function recorded(userId: string, index: number): { conn: LocalConnection; buffers: Buffer[] } {
  const raw = new Socket();
  const buffers: Buffer[] = [];
  jest.spyOn(raw, 'write').mockImplementation((chunk: unknown) => {
    if (Buffer.isBuffer(chunk)) buffers.push(Buffer.from(chunk));
    return true;
  });
  const socket: PeerSocket & { _socket: Socket } = {
    _socket: raw,
    readyState: WebSocket.OPEN,
    close: () => undefined,
    terminate: () => undefined,
    on: () => undefined,
    once: () => undefined,
  };
  const info = {
    connId: `c${index}`,
    userId,
    name: userId,
    teamId: TEAM,
    node: 'n',
    ip: '127.0.0.1',
    connectedAt: '',
  };
  return { conn: new LocalConnection(info, socket, undefined), buffers };
}

test('a release matches the rule, frame for frame and run for run, for any interleaving', () => {
  const users = ['u0', 'u1', 'u2', 'u3'];
  const step = fc.record({
    kind: fc.constantFrom('add', 'event'),
    user: fc.constantFrom(...users),
    event: fc.constantFrom('join' as const, 'leave' as const),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
      const hub = new Hub({
        maxBufferedBytes: 1 << 20,
        heartbeatMs: 60_000,
        presenceWindowMs: 60_000,
        metrics: createMetrics(),
        log: pino({ level: 'silent' }),
      });
      const members: { conn: LocalConnection; user: string; added: number; buffers: Buffer[] }[] =
        [];
      // Events while the team had a member here: the others reach nobody.
      const heard: { frame: Buffer; user: string; addedBefore: number }[] = [];
      for (const s of steps) {
        if (s.kind === 'add') {
          const { conn, buffers } = recorded(s.user, members.length);
          hub.add(conn);
          hub.flush(conn, E1, 0);
          members.push({ conn, user: s.user, added: members.length + 1, buffers });
        } else {
          const user = { id: s.user, name: s.user };
          hub.event({ kind: 'presence', teamId: TEAM, event: s.event, user });
          const frame = textFrame(
            encodeFrame({ type: 'presence', event: s.event, teamId: TEAM, user }),
          );
          if (members.length > 0) heard.push({ frame, user: s.user, addedBefore: members.length });
        }
      }
      const first = members[0];
      if (!first) return;
      // A reply releases what is held for the whole team, ahead of itself.
      const pong = textFrame(encodeFrame({ type: 'pong' }));
      hub.send(first.conn, pong);
      for (const m of members) {
        // The first event the team heard went at once, alone; the rest were held, and
        // each run of consecutive ones due to the member is one buffer.
        const expected: Buffer[] = [];
        let run: Buffer[] = [];
        const endRun = () => {
          if (run.length > 0) expected.push(Buffer.concat(run));
          run = [];
        };
        heard.forEach((e, i) => {
          if (e.user === m.user || e.addedBefore < m.added) return endRun();
          run.push(e.frame);
          if (i === 0) endRun();
        });
        endRun();
        if (m === first) expected.push(pong);
        expect(m.buffers).toEqual(expected);
      }
      for (const m of members) hub.remove(m.conn);
    }),
    { numRuns: 200 },
  );
});

import fc from 'fast-check';
import pino from 'pino';
import { epochAt } from '../../services/epoch';
import { encodeFrame } from '../../services/frames';
import { createMetrics } from '../../services/metrics';
import { Hub, type LocalConnection } from '../../services/socket/hub';
import { textFrame } from '../../services/socket/ws-frame';
import { eventually } from '../helpers/eventually';
import { hubPerTest, teamDelivery } from '../helpers/hub-per-test';
import { countSocketWrites } from '../helpers/socket-writes';
import { peerlessConnection } from '../helpers/peerless-connection';

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
  const buffers: Buffer[] = [];
  const conn = peerlessConnection(index, userId, TEAM, (chunk) => {
    if (Buffer.isBuffer(chunk)) buffers.push(Buffer.from(chunk));
  });
  return { conn, buffers };
}

/** The payloads of the server's unmasked text frames in `buffers`, in order. */
function framesOf(buffers: Buffer[]): string[] {
  const all = Buffer.concat(buffers);
  const frames: string[] = [];
  for (let at = 0; at < all.length;) {
    let length = all[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = all.readUInt16BE(at + 2);
      start += 2;
    }
    frames.push(all.toString('utf8', start, start + length));
    at = start + length;
  }
  return frames;
}

test('each member gets each due frame once, in order, whatever releases it', () => {
  const users = ['u0', 'u1', 'u2', 'u3'];
  const step = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('add' as const), user: fc.constantFrom(...users) }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('event' as const),
        user: fc.constantFrom(...users),
        event: fc.constantFrom('join' as const, 'leave' as const),
      }),
    },
    // A reply to one connection: releases only what is held for that connection.
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('send' as const), member: fc.nat(7) }),
    },
    // A team message: releases what is held for every member.
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('message' as const) }) },
    // A direct message: releases only what is held for the connections it reaches.
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('direct' as const),
        to: fc.constantFrom(...users),
        from: fc.constantFrom(...users),
      }),
    },
  );
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 40, size: 'medium' }), (steps) => {
      const hub = new Hub({
        maxBufferedBytes: 1 << 20,
        heartbeatMs: 60_000,
        presenceWindowMs: 60_000,
        metrics: createMetrics(),
        log: pino({ level: 'silent' }),
      });
      interface Model {
        conn: LocalConnection;
        user: string;
        added: number;
        buffers: Buffer[];
        expected: Buffer[];
        /** Index into `heard` up to which the member was given the frames or passed them. */
        given: number;
        /** Every presence frame due to it, in event order. */
        due: Buffer[];
      }
      const members: Model[] = [];
      // Events while the team had a member here: the others reach nobody.
      const heard: { frame: Buffer; user: string; addedBefore: number }[] = [];
      const isDue = (m: Model, e: (typeof heard)[number]) =>
        e.user !== m.user && e.addedBefore >= m.added;
      // What a release hands `m`: each run of consecutive held frames due to it as one
      // buffer, from where it was last given frames (the first went at once, alone).
      const release = (m: Model) => {
        let run: Buffer[] = [];
        const endRun = () => {
          if (run.length > 0) m.expected.push(Buffer.concat(run));
          run = [];
        };
        for (let i = Math.max(m.given, 1); i < heard.length; i++) {
          if (isDue(m, heard[i]!)) run.push(heard[i]!.frame);
          else endRun();
        }
        endRun();
        m.given = heard.length;
      };
      let seq = 0;
      for (const s of steps) {
        if (s.kind === 'add') {
          const { conn, buffers } = recorded(s.user, members.length);
          hub.add(conn);
          hub.flush(conn, E1, 0);
          const added = members.length + 1;
          members.push({
            conn,
            user: s.user,
            added,
            buffers,
            expected: [],
            given: heard.length,
            due: [],
          });
        } else if (s.kind === 'event') {
          const user = { id: s.user, name: s.user };
          hub.event({ kind: 'presence', teamId: TEAM, event: s.event, user });
          if (members.length === 0) continue;
          const frame = textFrame(
            encodeFrame({ type: 'presence', event: s.event, teamId: TEAM, user }),
          );
          const e = { frame, user: s.user, addedBefore: members.length };
          heard.push(e);
          for (const m of members) if (isDue(m, e)) m.due.push(frame);
          if (heard.length === 1) {
            for (const m of members) if (isDue(m, e)) m.expected.push(frame);
          }
        } else if (s.kind === 'send') {
          const m = members[s.member % Math.max(members.length, 1)];
          if (!m) continue;
          const pong = textFrame(encodeFrame({ type: 'pong' }));
          hub.send(m.conn, pong);
          release(m);
          m.expected.push(pong);
        } else if (s.kind === 'direct') {
          if (members.length === 0) continue;
          seq++;
          const delivery = teamDelivery(TEAM, E1, seq, {}, { to: s.to, fromId: s.from });
          hub.message(delivery);
          for (const m of members) {
            if (m.user !== s.to && m.user !== s.from) continue;
            release(m);
            m.expected.push(textFrame(delivery.frame));
          }
        } else {
          if (members.length === 0) continue;
          seq++;
          const delivery = teamDelivery(TEAM, E1, seq);
          hub.message(delivery);
          for (const m of members) {
            release(m);
            m.expected.push(textFrame(delivery.frame));
          }
        }
      }
      // The window never ends here: a last message releases what is still held.
      if (members.length > 0) {
        const delivery = teamDelivery(TEAM, E1, seq + 1);
        hub.message(delivery);
        for (const m of members) {
          release(m);
          m.expected.push(textFrame(delivery.frame));
        }
      }
      for (const m of members) {
        // Every due frame exactly once and in event order, whatever released it...
        const presence = framesOf(m.buffers).filter((f) => f.startsWith('{"type":"presence"'));
        expect(presence).toEqual(framesOf(m.due));
        // ...and released as runs: one buffer per run, replies and messages after them.
        expect(m.buffers).toEqual(m.expected);
      }
      for (const m of members) hub.remove(m.conn);
    }),
    {
      numRuns: 200,
      // Two held joins, a reply to one member, a third join: the other member still
      // gets the held ones together with the third.
      examples: [
        [
          [
            { kind: 'add', user: 'u0' },
            { kind: 'add', user: 'u1' },
            { kind: 'event', user: 'u2', event: 'join' },
            { kind: 'event', user: 'u2', event: 'join' },
            { kind: 'send', member: 0 },
            { kind: 'event', user: 'u3', event: 'join' },
          ],
        ],
      ],
    },
  );
});

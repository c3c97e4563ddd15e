import { epochAt } from '../../services/epoch';
import type { LocalConnection } from '../../services/socket/hub';
import { eventually } from '../helpers/eventually';
import { hubPerTest, teamDelivery } from '../helpers/hub-per-test';
import { countSocketWrites } from '../helpers/socket-writes';

/**
 * What a release of held presence frames hands each member (Hub.releasePresence):
 * the frames held after it joined, less those about its own user, each run of
 * consecutive ones as one buffer. Real sockets: a ws server on port 0; the window
 * is long enough that only the message releases the frames.
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

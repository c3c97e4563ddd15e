import type { Delivery } from '../../services/bus';
import { epochAt } from '../../services/epoch';
import { Subscription, type LocalConnection } from '../../services/socket/hub';
import { textFrame } from '../../services/socket/ws-frame';
import { eventually } from '../helpers/eventually';
import { hubPerTest, teamDelivery } from '../helpers/hub-per-test';

/**
 * The hub's duplicate filter compares (epoch, seq), never seq alone, and tells a
 * connection of a new epoch or of a gap before anything after it. Real sockets:
 * a ws server on port 0 and ws clients reading what the hub wrote.
 */
const E1 = epochAt(1_000_000);
const E2 = epochAt(2_000_000);
const TEAM = 'T';

const rig = hubPerTest();

interface Member {
  conn: LocalConnection;
  got: unknown[];
}

/** A connection of `userId` in the hub and what its client receives, in order. */
async function member(userId: string): Promise<Member> {
  const connId = `c-${userId}-${rig.count + 1}`;
  const { conn, client } = await rig.join({ connId, userId, teamId: TEAM });
  const got: unknown[] = [];
  client.on('message', (data: Buffer) => got.push(JSON.parse(data.toString('utf8'))));
  return { conn, got };
}

const delivery = (epoch: string, seq: number, extra: Partial<Delivery> = {}): Delivery =>
  teamDelivery(TEAM, epoch, seq, { epochOfTest: epoch }, extra);

let markers = 0;

/**
 * Waits until each member's client has read everything the hub wrote to it so far,
 * without guessing how long that takes: a marker written behind it on the same
 * socket arrives last. The marker is taken out of `got` again.
 */
async function settle(...members: Member[]): Promise<void> {
  for (const m of members) {
    const marker = { type: 'marker', n: markers++ };
    rig.hub.write(m.conn, textFrame(JSON.stringify(marker)));
    await eventually(() => {
      const at = m.got.findIndex((f) => JSON.stringify(f) === JSON.stringify(marker));
      if (at < 0) return false;
      m.got.splice(at, 1);
      return true;
    }, 15_000);
  }
}

test('a new epoch is announced before its first message; an older one is dropped', async () => {
  const { conn, got } = await member('u');
  rig.hub.flush(conn, E1, 20);
  rig.hub.message(delivery(E1, 20)); // covered by the welcome
  rig.hub.message(delivery(E2, 1));
  rig.hub.message(delivery(E1, 21)); // from before the reset
  rig.hub.message(delivery(E2, 2));
  await settle({ conn, got });
  expect(got).toEqual([
    { type: 'epoch', teamId: TEAM, epoch: E2, seq: 0 },
    { type: 'message', seq: 1, epochOfTest: E2 },
    { type: 'message', seq: 2, epochOfTest: E2 },
  ]);
});

test('frames held during the handshake are filtered by the epoch the client was told', async () => {
  const { conn, got } = await member('u');
  rig.hub.message(delivery(E1, 7)); // queued before the welcome read the new epoch
  rig.hub.message(delivery(E2, 1));
  rig.hub.message(delivery(E2, 2));
  rig.hub.flush(conn, E2, 1);
  await settle({ conn, got });
  expect(got).toEqual([{ type: 'message', seq: 2, epochOfTest: E2 }]);
});

test('the sender and members a direct message skips still hear of the new epoch', async () => {
  const sender = await member('s');
  const other = await member('o');
  const to = await member('r');
  for (const m of [sender, other, to]) rig.hub.flush(m.conn, E1, 5);
  rig.hub.message(delivery(E2, 1, { origin: sender.conn.info.connId, to: 'r', fromId: 's' }));
  await settle(sender, other, to);
  const notice = { type: 'epoch', teamId: TEAM, epoch: E2, seq: 0 };
  expect(sender.got).toEqual([notice]);
  expect(other.got).toEqual([notice]);
  expect(to.got).toEqual([notice, { type: 'message', seq: 1, epochOfTest: E2 }]);
});

test('a gap the node cannot fill is told to connections that had not seen it', async () => {
  const behind = await member('b');
  const ahead = await member('a');
  rig.hub.flush(behind.conn, E1, 3);
  rig.hub.flush(ahead.conn, E1, 9);
  rig.hub.gap(TEAM, E1, 8);
  rig.hub.message(delivery(E1, 9));
  rig.hub.message(delivery(E1, 10));
  await settle(behind, ahead);
  expect(behind.got).toEqual([
    { type: 'epoch', teamId: TEAM, epoch: E1, seq: 8 },
    { type: 'message', seq: 9, epochOfTest: E1 },
    { type: 'message', seq: 10, epochOfTest: E1 },
  ]);
  expect(ahead.got).toEqual([{ type: 'message', seq: 10, epochOfTest: E1 }]);
});

test('a gap notice in a newer epoch still lets the message after it through', async () => {
  const { conn, got } = await member('u');
  rig.hub.flush(conn, E1, 20);
  rig.hub.gap(TEAM, E2, 4);
  rig.hub.message(delivery(E2, 5));
  rig.hub.message(delivery(E2, 6));
  await settle({ conn, got });
  expect(got).toEqual([
    { type: 'epoch', teamId: TEAM, epoch: E2, seq: 4 },
    { type: 'message', seq: 5, epochOfTest: E2 },
    { type: 'message', seq: 6, epochOfTest: E2 },
  ]);
});

describe('a subscription keeps its own epoch, seen and pending queue', () => {
  const OTHER = 'S';
  const inOther = (epoch: string, seq: number) =>
    delivery(epoch, seq, {
      teamId: OTHER,
      frame: JSON.stringify({ type: 'message', teamId: OTHER, seq }),
    });

  test('seqs of the other team are filtered by its own seen, and its epoch frame names it', async () => {
    const { conn, got } = await member('u');
    rig.hub.flush(conn, E1, 20);
    const sub = new Subscription(conn, OTHER, () => undefined);
    rig.hub.subscribe(sub);
    rig.hub.message(inOther(E1, 3)); // waits for the subscription's head
    rig.hub.message(delivery(E1, 21)); // the home team is not held up by it
    rig.hub.flush(sub, E1, 2);
    rig.hub.message(inOther(E1, 3)); // a live copy of what was sent: dropped
    rig.hub.message(inOther(E2, 1));
    await settle({ conn, got });
    expect(got).toEqual([
      { type: 'message', seq: 21, epochOfTest: E1 },
      { type: 'message', teamId: OTHER, seq: 3 },
      { type: 'epoch', teamId: OTHER, epoch: E2, seq: 0 },
      { type: 'message', teamId: OTHER, seq: 1 },
    ]);
  });

  test('after unsubscribe nothing of the team arrives, and the node may leave the team', async () => {
    const { conn, got } = await member('u');
    rig.hub.flush(conn, E1, 0);
    const sub = new Subscription(conn, OTHER, () => undefined);
    rig.hub.subscribe(sub);
    rig.hub.flush(sub, E1, 0);
    expect(rig.hub.teamCount).toBe(2);
    expect(rig.hub.unsubscribe(sub)).toBe(true);
    // No empty map left behind on the connection.
    expect(conn.subs).toBeUndefined();
    expect(rig.hub.unsubscribe(sub)).toBe(false);
    rig.hub.message(inOther(E1, 1));
    rig.hub.message(delivery(E1, 1));
    await settle({ conn, got });
    expect(got).toEqual([{ type: 'message', seq: 1, epochOfTest: E1 }]);
    expect(rig.hub.teamCount).toBe(1);
  });
});

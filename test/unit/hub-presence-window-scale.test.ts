import type WebSocket from 'ws';
import { eventually } from '../helpers/eventually';
import { hubPerTest } from '../helpers/hub-per-test';
import { countSocketWrites } from '../helpers/socket-writes';
import { epochAt } from '../../services/epoch';

/**
 * The presence window grows with the team (presence-window.ts): in a team of more
 * than 100 local members, a presence event that comes after the configured window
 * but within the grown one is held, so events spread out over time reach each
 * member in fewer writes. On real sockets. No timing is asserted: the test's timer
 * and the hub's window timer start in the same turn, so which fires first follows
 * from their lengths alone, however slow the machine.
 */
const TEAM = 'T';
const E1 = epochAt(1_000_000);
const WINDOW_MS = 20;

const rig = hubPerTest({ presenceWindowMs: WINDOW_MS });

interface Member {
  joins: string[];
}

async function team(size: number, writes: number[]): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < size; i++) {
    const { conn, client } = await rig.join({ connId: `c${i}`, userId: `m${i}`, teamId: TEAM });
    rig.hub.flush(conn, E1, 0);
    countSocketWrites(conn.raw, writes, 'writes');
    members.push(listen(client));
  }
  return members;
}

function listen(client: WebSocket): Member {
  const member: Member = { joins: [] };
  client.on('message', (data: Buffer) => {
    // A release is one WebSocket frame per presence event, whatever the write.
    const frame = JSON.parse(data.toString('utf8')) as { type: string; user?: { id: string } };
    if (frame.type === 'presence') member.joins.push(frame.user?.id ?? '');
  });
  return member;
}

function join(userId: string): void {
  rig.hub.event({
    kind: 'presence',
    teamId: TEAM,
    event: 'join',
    user: { id: userId, name: userId },
  });
}

/**
 * x0 goes at once and opens the window; x1 and x2 come one base window (and a ms)
 * later. With a window of WINDOW_MS, x0's window has closed by then: x1 goes at once
 * and x2 is held behind it (three writes). With a longer window both are held and
 * leave together (two writes).
 */
async function spreadOutJoins(members: Member[], writes: number[]): Promise<number[]> {
  const before = [...writes];
  await new Promise<void>((resolve) => {
    join('x0');
    setTimeout(() => {
      join('x1');
      join('x2');
      resolve();
    }, WINDOW_MS + 1);
  });
  await eventually(() => members.every((m) => m.joins.length === 3));
  for (const m of members) expect(m.joins).toEqual(['x0', 'x1', 'x2']);
  return writes.map((n, i) => n - before[i]!);
}

test('a team of 100 holds presence for the configured window, as before', async () => {
  const writes: number[] = [];
  const members = await team(100, writes);
  expect(new Set(await spreadOutJoins(members, writes))).toEqual(new Set([3]));
});

test('a team of 101 holds it for two windows: spread-out joins in fewer writes', async () => {
  const writes: number[] = [];
  const members = await team(101, writes);
  expect(new Set(await spreadOutJoins(members, writes))).toEqual(new Set([2]));
});

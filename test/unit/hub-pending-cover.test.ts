import WebSocket from 'ws';
import { epochAt } from '../../services/epoch';
import type { LocalConnection } from '../../services/socket/hub';
import { eventually } from '../helpers/eventually';
import { hubPerTest, teamDelivery } from '../helpers/hub-per-test';

/**
 * While a joining connection's welcome and replay go out, live messages wait in
 * its pending queue, bounded by MAX_BUFFERED_BYTES. On Redis, pub/sub copies of
 * messages the head already covers can still arrive then (they lag the head read):
 * they must not count against the bound. Real sockets: a ws server on port 0.
 */
const E1 = epochAt(1_000_000);
const E2 = epochAt(2_000_000);
const TEAM = 'T';
const BOUND = 64 * 1024;
const CHUNK = 'x'.repeat(2048);

const rig = hubPerTest({ maxBufferedBytes: BOUND });

const delivery = (epoch: string, seq: number) => teamDelivery(TEAM, epoch, seq, { data: CHUNK });

async function joining(): Promise<{
  conn: LocalConnection;
  got: number[];
  closed: { code?: number };
}> {
  const { conn, client } = await rig.join({
    connId: `c${rig.count + 1}`,
    userId: 'u',
    teamId: TEAM,
  });
  // A client closed with 4008 may not have seen its open yet: the close is the point.
  client.on('error', () => undefined);
  const closed: { code?: number } = {};
  client.on('close', (code: number) => (closed.code = code));
  const got: number[] = [];
  client.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as { seq?: number };
    got.push(frame.seq ?? 0);
  });
  return { conn, got, closed };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('lagging copies of what the head covers do not fill the pending bound', async () => {
  const { conn, got } = await joining();
  // 30 copies (just under the bound) arrive before the head is known, 270 after.
  for (const seq of range(1, 30)) rig.hub.message(delivery(E1, seq));
  rig.hub.cover(conn, E1, 300);
  for (const seq of range(31, 300)) rig.hub.message(delivery(E1, seq));
  for (const seq of range(301, 310)) rig.hub.message(delivery(E1, seq));
  expect(conn.socket.readyState).toBe(WebSocket.OPEN);
  rig.hub.flush(conn, E1, 300);
  await eventually(() => got.length === 10);
  expect(got).toEqual(range(301, 310));
});

test('what the head does not cover still counts: past the bound, 4008', async () => {
  const { conn, closed } = await joining();
  rig.hub.cover(conn, E1, 10);
  // A newer epoch is not covered by the head of the older one.
  for (const seq of range(1, 40)) rig.hub.message(delivery(E2, seq));
  await eventually(() => closed.code !== undefined);
  expect(closed.code).toBe(4008);
});

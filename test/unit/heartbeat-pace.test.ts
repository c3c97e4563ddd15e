import { Heartbeat } from '../../services/socket/heartbeat';
import type { LocalConnection } from '../../services/socket/hub';
import { eventually } from '../helpers/eventually';
import { peerlessConnection } from '../helpers/peerless-connection';

/**
 * The pongs of a slot's pings come back together: pinged in consecutive turns, a
 * slot of 500 listeners brought 500 pongs at once and held the loop 20-50 ms in the
 * bench (issue #14). A tick pings its slot a slice at a time, the slices apart, while
 * the node has deliveries to keep moving; on a quiet node spreading only costs CPU.
 */

const BEAT_MS = 1000;
/** Heartbeat's wheel at this beat: ten ticks of 100 ms, connections dealt round robin. */
const SLOTS = 10;
const TICK_MS = BEAT_MS / SLOTS;
/** Four of the heartbeat's slices (64 connections each). */
const PER_SLOT = 256;

/** An idle connection whose socket counts the pings written to it, without a peer. */
function listener(index: number, pinged: () => void): LocalConnection {
  return peerlessConnection(index, `u${index}`, 'T', pinged);
}

/** Pings a slot while the node's activity count does what `activity` says; when and how many. */
async function pingOneSlot(
  activity: () => number,
): Promise<{ at: number[]; afterTwoTurns: number }> {
  const heartbeat = new Heartbeat(BEAT_MS, activity);
  const at: number[] = [];
  let afterTwoTurns: number | undefined;
  const pinged = () => {
    at.push(performance.now());
    if (at.length > 1) return;
    // Two turns after the first ping: the slot's first slice and whatever follows at once.
    setImmediate(() => setImmediate(() => (afterTwoTurns = at.length)));
  };
  for (let i = 0; i < SLOTS * PER_SLOT; i++) heartbeat.add(listener(i, pinged));
  heartbeat.start();
  try {
    await eventually(() => at.length >= PER_SLOT && afterTwoTurns !== undefined, 10 * BEAT_MS);
    return { at, afterTwoTurns: afterTwoTurns! };
  } finally {
    heartbeat.stop();
  }
}

test('while the node writes to its clients, a tick pings its slot a slice at a time, the slices apart', async () => {
  let writes = 0;
  const { at, afterTwoTurns } = await pingOneSlot(() => ++writes);
  expect(afterTwoTurns).toBeGreaterThan(0);
  expect(afterTwoTurns).toBeLessThanOrEqual(PER_SLOT / 4);
  // Spread over half the tick: the last slice starts three eighths of a tick after the first.
  expect(at[PER_SLOT - 1]! - at[0]!).toBeGreaterThanOrEqual(TICK_MS / 4);
});

test('on a quiet node the slices go back to back', async () => {
  const { afterTwoTurns } = await pingOneSlot(() => 0);
  expect(afterTwoTurns).toBeGreaterThan(PER_SLOT / 4);
});

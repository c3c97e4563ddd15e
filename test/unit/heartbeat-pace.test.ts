import { Heartbeat } from '../../services/socket/heartbeat';
import type { LocalConnection } from '../../services/socket/hub';
import { eventually } from '../helpers/eventually';
import { peerlessConnection } from '../helpers/peerless-connection';

/**
 * The pongs of a slot's pings come back together: pinged in consecutive turns, a
 * slot of 500 listeners brought 500 pongs at once and held the loop 20-50 ms in the
 * bench (issue #14). A tick pings its slot a slice at a time, the slices apart.
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

test('a tick pings its slot a slice at a time, the slices apart', async () => {
  const heartbeat = new Heartbeat(BEAT_MS);
  const at: number[] = [];
  let afterFirstTurns: number | undefined;
  const pinged = () => {
    at.push(performance.now());
    if (at.length > 1) return;
    // Two turns after the first ping: the slot's first slice and whatever follows at once.
    setImmediate(() => setImmediate(() => (afterFirstTurns = at.length)));
  };
  for (let i = 0; i < SLOTS * PER_SLOT; i++) heartbeat.add(listener(i, pinged));
  heartbeat.start();
  try {
    await eventually(() => at.length >= PER_SLOT, 10 * BEAT_MS);
    expect(afterFirstTurns).toBeGreaterThan(0);
    expect(afterFirstTurns).toBeLessThanOrEqual(PER_SLOT / 4);
    // Spread over half the tick: the last slice starts three eighths of a tick after the first.
    expect(at[PER_SLOT - 1]! - at[0]!).toBeGreaterThanOrEqual(TICK_MS / 4);
  } finally {
    heartbeat.stop();
  }
});

import { Socket } from 'node:net';
import WebSocket from 'ws';
import { Heartbeat } from '../../services/socket/heartbeat';
import { LocalConnection } from '../../services/socket/hub';
import type { PeerSocket } from '../../services/socket/peer-socket';
import { eventually } from '../helpers/eventually';

/**
 * The pongs of a slot's pings come back together: pinged in consecutive turns, a
 * slot of 500 listeners brought 500 pongs at once and held the loop 20-50 ms in the
 * bench (issue #14). A tick pings its slot a slice at a time, the slices apart.
 */

const BEAT_MS = 1000;
/** Heartbeat's wheel at this beat: ten ticks, connections dealt round robin. */
const SLOTS = 10;
const PER_SLOT = 64;

/** An idle connection whose socket counts the pings written to it, without a peer. */
function listener(index: number, pinged: () => void): LocalConnection {
  const raw = new Socket();
  jest.spyOn(raw, 'write').mockImplementation(() => {
    pinged();
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
    userId: `u${index}`,
    name: `u${index}`,
    teamId: 'T',
    node: 'n',
    ip: '127.0.0.1',
    connectedAt: '',
  };
  return new LocalConnection(info, socket, undefined);
}

test('a tick pings its slot a slice at a time, not all in consecutive turns', async () => {
  const heartbeat = new Heartbeat(BEAT_MS);
  let pings = 0;
  let afterFirstTurns: number | undefined;
  const pinged = () => {
    pings++;
    if (pings > 1) return;
    // Two turns after the first ping: the slot's first slice and whatever follows at once.
    setImmediate(() => setImmediate(() => (afterFirstTurns = pings)));
  };
  for (let i = 0; i < SLOTS * PER_SLOT; i++) heartbeat.add(listener(i, pinged));
  heartbeat.start();
  try {
    await eventually(() => afterFirstTurns !== undefined, 10 * BEAT_MS);
    expect(afterFirstTurns).toBeGreaterThan(0);
    expect(afterFirstTurns).toBeLessThan(PER_SLOT);
    // The rest of the slot still gets its ping.
    await eventually(() => pings >= PER_SLOT, 10 * BEAT_MS);
  } finally {
    heartbeat.stop();
  }
});

import WebSocket from 'ws';
import { CloseCode } from '../../protocol/close-codes';
import type { LocalConnection } from './hub';

/**
 * Connections looked at per slice, in one turn of the event loop. A ping is a write
 * call of its own (10-40 µs by machine), and its pong a read: 256 per turn held the
 * loop 3-4 ms twice per tick in the bench's fixed-load phase, deliveries queued
 * behind them (issue #14). Smaller slices cost CPU instead: spread apart, a slice's
 * pongs come back a few per wake-up, and each wake-up of the server (and of the peer)
 * costs about as much as the ping. Per ping cycle at 10,000 idle clients: 35 µs
 * unspread, 40 at 128, 43-47 at 64, 57-73 at 16; 64 keeps most of the saving with a
 * slice's writes and pongs near a millisecond.
 */
const VISIT_SLICE = 64;
/**
 * While the node is writing to its clients, a tick's slot is looked at over this
 * share of the tick, its slices evenly apart, not in consecutive turns: the pongs of
 * a slice come back together, and a slot's pongs all at once held the loop 20-50 ms
 * in the bench (5,000 clients, 500 pongs a tick), every delivery due meanwhile
 * waiting behind them (issue #14). Half, so a slot is done well before the next tick
 * even when the loop is slow.
 *
 * On a quiet node the slices go back to back: there is no delivery to hold up, and
 * spread out, the pongs come back a few per wake-up of the process: the bench's
 * C100k process (19,000 idle clients, 25 s beats) used 1.93 s of CPU a minute with
 * slices of 64 spread, 2.82 with 16, 1.24-1.30 back to back.
 */
const SPREAD_SHARE = 0.5;
/**
 * The most ticks a beat is spread over; fewer for a short beat (ticks of 100 ms at
 * least). Enough that 100,000 sockets are not pinged in one go; in runs of 5,000 idle
 * clients, 100 ticks cost about 10-25 % more CPU per beat than one (more wake-ups,
 * fewer pongs read per wake-up).
 */
const MAX_TICKS = 10;
const MIN_TICK_MS = 100;

/**
 * A WebSocket ping frame with no payload (RFC 6455 §5.5.2), shared by every ping:
 * written straight to the TCP socket like the hub's frames (see ws-frame.ts), it
 * costs no allocation, where ws builds a header and corks the socket for each.
 */
const PING_FRAME = Buffer.from([0x89, 0x00]);

/**
 * The heartbeat (docs/PROTOCOL.md §7). Every connection is looked at once per beat,
 * a slot of the beat's wheel per tick, so a big node pings a tenth of its sockets at
 * a time instead of all of them in one burst, and a slot in slices, spread over half
 * the tick while the node has deliveries to keep moving. At a look, a connection
 * heard from since the last one (its TCP socket read anything: a frame, a pong)
 * costs nothing; one not heard from gets a ping; one that was pinged at the last look
 * and has still not been heard from is cut.
 *
 * The look happens in a setImmediate, never in the timer's callback: after a stall
 * of the event loop (GC, a long turn) the timer runs before the poll phase has read
 * what arrived meanwhile, and a pong waiting in the socket would not be seen yet.
 */
export class Heartbeat {
  private readonly wheel: Set<LocalConnection>[];
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private visit: NodeJS.Immediate | undefined;
  /** The wait before the next slice of the slot being looked at. */
  private pause: NodeJS.Timeout | undefined;
  /** ms between the slices of the slot being looked at while the node writes; under 1, none. */
  private paceMs = 0;
  /** The node's write count (`activity`) when the last slice was looked at. */
  private seenActivity: number;
  /** The slot being looked at, a slice at a time; undefined between ticks. */
  private visiting: Iterator<LocalConnection> | undefined;
  /** Ticks that fired while a slot was still being looked at: their slots come next. */
  private behind = 0;
  /** The slot of the next tick. */
  private hand = 0;
  /** The slot of the next connection added: round robin keeps slots even. */
  private nextSlot = 0;

  /**
   * `activity` is a count that moves whenever the node writes to its clients (turns
   * with writes): slices are spread only while it moves.
   */
  constructor(
    heartbeatMs: number,
    private readonly activity: () => number,
  ) {
    const ticks = Math.max(1, Math.min(MAX_TICKS, Math.floor(heartbeatMs / MIN_TICK_MS)));
    this.tickMs = heartbeatMs / ticks;
    this.wheel = Array.from({ length: ticks }, () => new Set<LocalConnection>());
    this.seenActivity = activity();
  }

  add(conn: LocalConnection): void {
    conn.slot = this.nextSlot;
    this.nextSlot = (this.nextSlot + 1) % this.wheel.length;
    this.wheel[conn.slot]!.add(conn);
  }

  remove(conn: LocalConnection): void {
    this.wheel[conn.slot]!.delete(conn);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(this.tick, this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.visit) clearImmediate(this.visit);
    this.visit = undefined;
    clearTimeout(this.pause);
    this.pause = undefined;
    this.visiting = undefined;
    this.behind = 0;
  }

  private readonly tick = (): void => {
    if (this.visiting) {
      this.behind++;
      return;
    }
    this.nextSlotVisit();
  };

  private nextSlotVisit(): void {
    const slot = this.wheel[this.hand]!;
    this.visiting = slot.values();
    this.hand = (this.hand + 1) % this.wheel.length;
    this.paceMs = (this.tickMs * SPREAD_SHARE) / Math.max(1, Math.ceil(slot.size / VISIT_SLICE));
    this.visit = setImmediate(this.slice);
  }

  /**
   * The next slice of the slot: after paceMs if the node wrote to its clients since
   * the last slice, else at once; in a setImmediate either way (see above).
   */
  private nextSlice(): void {
    const activity = this.activity();
    const quiet = activity === this.seenActivity;
    this.seenActivity = activity;
    if (quiet || this.paceMs < 1) {
      this.visit = setImmediate(this.slice);
      return;
    }
    this.pause = setTimeout(this.resume, this.paceMs);
    this.pause.unref();
  }

  private readonly resume = (): void => {
    this.pause = undefined;
    this.visit = setImmediate(this.slice);
  };

  private readonly slice = (): void => {
    this.visit = undefined;
    const visiting = this.visiting;
    if (!visiting) return;
    const now = Date.now();
    for (let i = 0; i < VISIT_SLICE; i++) {
      const next = visiting.next();
      if (next.done === true) {
        this.visiting = undefined;
        if (this.behind > 0) {
          this.behind--;
          this.nextSlotVisit();
        }
        return;
      }
      this.look(next.value, now);
    }
    this.nextSlice();
  };

  private look(conn: LocalConnection, now: number): void {
    const socket = conn.socket;
    if (socket.readyState === WebSocket.CLOSED) return;
    const read = conn.raw.bytesRead;
    if (conn.expiresAt !== undefined && now >= conn.expiresAt) {
      socket.close(CloseCode.policy, 'token expired');
    } else if (read !== conn.readAtLook) {
      conn.readAtLook = read;
      conn.pinged = false;
    } else if (conn.pinged) {
      // Pinged at the last look, nothing read since: the peer is gone; 'close' cleans up.
      socket.terminate();
    } else {
      conn.pinged = true;
      // A closing socket gets no ping after its close frame, and is cut at the next look.
      if (socket.readyState !== WebSocket.OPEN) return;
      const raw = conn.raw;
      raw.write(PING_FRAME);
      // Joins what the hub corked this turn, and counts as it does (Hub.write).
      if (raw.writableCorked > 0) conn.corkedBytes += PING_FRAME.length;
    }
  }
}

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { BusListener, ClusterEvent, Delivery } from '../bus';
import { isNewerEpoch } from '../epoch';
import { encodeFrame } from '../frames';
import type { Metrics } from '../metrics';
import type { ConnectionInfo } from '../types';
import { CloseCode } from '../../protocol/close-codes';
import { Heartbeat } from './heartbeat';
import type { PeerSocket } from './peer-socket';
import { presenceWindowMs } from './presence-window';
import { textFrame, underlyingSocket } from './ws-frame';

interface PendingFrame {
  /** seq of a message; 0 for frames that are not messages. */
  seq: number;
  /** The epoch of a message's seq; '' for frames that are not messages. */
  epoch: string;
  /** Undefined for a message this connection may not see: it can still start a new epoch. */
  frame: Buffer | undefined;
  /** A gap notice (Hub.gap), not a message. */
  lost: boolean;
}

export interface LocalTeam {
  members: Set<Membership>;
  /**
   * Presence frames held while the window is open, with the user each one is about
   * and the Hub.add count when it was held.
   */
  held: { frame: Buffer; userId: string; addedBefore: number }[];
  /**
   * Frames held and released before the ones in `held`: held[i] is the team's
   * (heldBase + i)th held frame, the count Membership.presenceGiven is kept in.
   */
  heldBase: number;
  window: NodeJS.Timeout | undefined;
  /**
   * The store was asked to record the team since its first local connection: one
   * write per team and node instead of one per join (a join storm on one team would
   * otherwise send the same write thousands of times).
   */
  recorded: boolean;
}

/**
 * One connection's place in one team: the seqs it was told of there, and the frames
 * of that team that wait while its welcome or replay goes out. A connection is the
 * membership of its home team (so one team per connection costs nothing more); each
 * subscribed team adds a Subscription.
 */
export abstract class Membership {
  /** While set, frames wait here so the welcome and any replay go out first. */
  pending: PendingFrame[] | null = [];
  /** Bytes of the frames in `pending`. */
  pendingBytes = 0;
  /**
   * The epoch this connection's client knows of the team (welcome or `subscribed`,
   * or the last `epoch` frame); set by Hub.flush. A message of a newer epoch is
   * preceded by an `epoch` frame; a message of an older one is from before a reset
   * the client was told about.
   */
  epoch = '';
  /**
   * Messages of `epoch` up to this seq were sent (head, replay, live) or are covered
   * by an `epoch` frame. Live copies of what the head or replay covered can still
   * arrive after the handshake, since pub/sub may lag the read that made the
   * replay: they are dropped here.
   */
  seen = 0;
  /**
   * While `pending` is set: the head the welcome or `subscribed` reported (Hub.cover).
   * Live copies of messages up to it are not queued, since flush would drop them.
   */
  coveredEpoch = '';
  coveredSeq = 0;
  /** Set by Hub.add. */
  team: LocalTeam | undefined;
  /** Hub.add count when this membership was added. */
  addedAt = 0;
  /**
   * The team's held frames (counted as LocalTeam.heldBase) this membership was given
   * before the team released them: a reply releases only what is held for its own
   * connection, and the team's release then skips what it already got.
   */
  presenceGiven = 0;
  abstract readonly info: ConnectionInfo;
  abstract readonly teamId: string;
  /** The socket's connection: where frames are written. */
  abstract readonly conn: LocalConnection;
}

/**
 * One socket on this node, and its home team's membership. Only what delivery needs
 * is kept here: no Koa context, no request, so an idle connection stays small.
 */
export class LocalConnection extends Membership {
  /**
   * What the TCP socket had read (`bytesRead`) when the heartbeat last looked at it:
   * anything read since (a frame, a pong, a ping) means the peer is there. Read from
   * the socket at the look instead of set by a 'pong' listener and on each frame: a
   * listener per connection was a closure and a bigger event table for every socket.
   */
  readAtLook: number;
  /** Pinged at the heartbeat's last look, and not heard from since. */
  pinged = false;
  /** Its slot in the heartbeat's wheel. */
  slot = 0;
  /** Where frames are written: see underlyingSocket. */
  readonly raw: Socket;
  /** Bytes written since the hub corked `raw` this turn: not yet offered to the kernel. */
  corkedBytes = 0;
  /** The hub corked `raw` this turn and uncorks it when the turn ends. */
  corked = false;
  readonly teamId: string;
  readonly conn: LocalConnection = this;
  /** The other teams it follows, by team id; made on the first subscribe. */
  subs: Map<string, Subscription> | undefined;

  constructor(
    readonly info: ConnectionInfo,
    readonly socket: PeerSocket,
    /** ms since epoch when the auth token expires; the heartbeat closes the socket then. */
    readonly expiresAt: number | undefined,
  ) {
    super();
    this.teamId = info.teamId;
    this.raw = underlyingSocket(socket);
    // The handshake itself is not an answer: a client that never sends a byte after
    // it is pinged at the first look, as before any frame.
    this.readAtLook = this.raw.bytesRead;
  }
}

/** A team a connection follows besides its home team (docs/PROTOCOL.md §7). */
export class Subscription extends Membership {
  readonly info: ConnectionInfo;

  constructor(
    readonly conn: LocalConnection,
    readonly teamId: string,
    /** Ends the subscription with an `unsubscribed` frame (a ban on the team). */
    readonly end: () => void,
  ) {
    super();
    this.info = conn.info;
  }
}

/** What a queued entry without a frame counts against the pending bound. */
const PENDING_ENTRY_BYTES = 64;
/**
 * How long an upgraded socket's 101 may wait for the welcome to share its write
 * (Hub.holdUpgrade): a Redis round trip or two, even in a join storm; past it the
 * 101 goes alone, as it would without the hold.
 */
const UPGRADE_HOLD_MS = 50;

export interface HubOptions {
  maxBufferedBytes: number;
  heartbeatMs: number;
  /**
   * Presence frames to a team leave at most once per window: the first at once, the
   * ones that follow within the window together at its end. A join storm (a big team
   * reconnecting after a restart) costs each member one write per window instead of
   * one per join. Order is kept: what is held for a member goes out before anything
   * else is sent to it (a reply releases only that connection's, a message the
   * team's), and only to the connections that were there when it was held. 0 sends
   * each at once. The window grows with the team's local members
   * (presence-window.ts), so a big team's presence writes per second stay bounded.
   */
  presenceWindowMs: number;
  /**
   * Whether a ban now covers the user in the team. Asked again when a connection is
   * added: a ban announced between its handshake check and here would miss it.
   */
  isBanned?: (userId: string, teamId: string) => boolean;
  metrics: Metrics;
  log: Logger;
}

/** The local connections of this node and delivery to them. */
export class Hub implements BusListener {
  private readonly conns = new Map<string, LocalConnection>();
  private readonly teams = new Map<string, LocalTeam>();
  private readonly perIp = new Map<string, number>();
  private readonly heartbeat: Heartbeat;
  private corked: LocalConnection[] = [];
  /** Upgraded sockets to uncork with this turn's corked connections (their first write). */
  private upgrades: Socket[] = [];
  /**
   * Upgraded sockets corked by holdUpgrade whose welcome has not been written yet,
   * with when they were held; in insertion order, so the oldest come first.
   */
  private waitingUpgrades = new Map<Socket, number>();
  private upgradeSweep: NodeJS.Timeout | undefined;
  private uncorkScheduled = false;
  /** Connections ever added: orders additions against held presence frames. */
  private added = 0;
  /** Turns in which the hub wrote to its sockets: tells the heartbeat the node is busy. */
  private writeTurns = 0;

  constructor(private readonly options: HubOptions) {
    this.heartbeat = new Heartbeat(options.heartbeatMs, () => this.writeTurns);
  }

  /**
   * Uncorks every socket written to since the last turn of the event loop.
   * setImmediate, not nextTick: frames are handled in promise callbacks, which run
   * after nextTick, and all of them should share the write.
   */
  private readonly uncorkAll = (): void => {
    this.uncorkScheduled = false;
    this.writeTurns++;
    const corked = this.corked;
    this.corked = [];
    for (const conn of corked) {
      conn.corkedBytes = 0;
      conn.corked = false;
      conn.raw.uncork();
    }
    const upgrades = this.upgrades;
    this.upgrades = [];
    for (const socket of upgrades) socket.uncork();
  };

  private scheduleUncork(): void {
    if (this.uncorkScheduled) return;
    this.uncorkScheduled = true;
    setImmediate(this.uncorkAll);
  }

  /**
   * Corks a socket about to be upgraded until its first write (the welcome), so the
   * 101 response leaves in the same write instead of one of its own. On Redis the
   * set-up waits a round trip or two for the welcome's head and the presence add:
   * the 101 waits with it, one write (and one wakeup of the client) less per
   * connection. A set-up that takes longer than UPGRADE_HOLD_MS (Redis slow or
   * down) or ends in a close before any write gets its 101 (and close frame) sent
   * then: holding it only saves a write, it must never hold a client back.
   */
  holdUpgrade(socket: Socket): void {
    socket.cork();
    this.waitingUpgrades.set(socket, Date.now());
    this.upgradeSweep ??= setTimeout(this.sweepUpgrades, UPGRADE_HOLD_MS);
  }

  /** Uncorks the upgrades held UPGRADE_HOLD_MS or more without a write. */
  private readonly sweepUpgrades = (): void => {
    this.upgradeSweep = undefined;
    const now = Date.now();
    for (const [socket, since] of this.waitingUpgrades) {
      const wait = since + UPGRADE_HOLD_MS - now;
      if (wait > 0) {
        this.upgradeSweep = setTimeout(this.sweepUpgrades, wait);
        return;
      }
      this.waitingUpgrades.delete(socket);
      socket.uncork();
    }
  };

  private releaseAllUpgrades(): void {
    clearTimeout(this.upgradeSweep);
    this.upgradeSweep = undefined;
    for (const socket of this.waitingUpgrades.keys()) socket.uncork();
    this.waitingUpgrades.clear();
  }

  get size(): number {
    return this.conns.size;
  }

  /**
   * True when this connection should ask the store to record its team: the first
   * one of the team on this node, or the next one after a try that failed.
   */
  claimTeamRecord(conn: LocalConnection): boolean {
    const team = conn.team;
    if (!team || team.recorded) return false;
    team.recorded = true;
    return true;
  }

  /** The record could not be written: the team's next join tries again. */
  teamRecordFailed(conn: LocalConnection): void {
    if (conn.team) conn.team.recorded = false;
  }

  /** Teams with a connection on this node. */
  get teamCount(): number {
    return this.teams.size;
  }

  /** Whether a ban covers the user in the team now (local, no I/O). */
  isBanned(userId: string, teamId: string): boolean {
    return this.options.isBanned?.(userId, teamId) === true;
  }

  countForIp(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  add(conn: LocalConnection): void {
    this.conns.set(conn.info.connId, conn);
    this.heartbeat.add(conn);
    this.perIp.set(conn.info.ip, this.countForIp(conn.info.ip) + 1);
    this.options.metrics.connections.set(this.conns.size);
    this.join(conn);
  }

  /** Adds a subscribed team's membership; the connection must have been added. */
  subscribe(sub: Subscription): void {
    let subs = sub.conn.subs;
    if (!subs) {
      subs = new Map();
      sub.conn.subs = subs;
    }
    subs.set(sub.teamId, sub);
    this.join(sub);
  }

  private join(member: Membership): void {
    let team = this.teams.get(member.teamId);
    if (!team) {
      team = { members: new Set(), held: [], heldBase: 0, window: undefined, recorded: false };
      this.teams.set(member.teamId, team);
    }
    team.members.add(member);
    member.team = team;
    member.addedAt = ++this.added;
    member.presenceGiven = 0;
    if (this.options.isBanned?.(member.info.userId, member.teamId) === true) this.ban(member);
  }

  /**
   * Returns true when the node holds no connection of the team any more. The
   * connection's subscriptions stay: the session removes them one by one.
   */
  remove(conn: LocalConnection): boolean {
    if (!this.conns.delete(conn.info.connId)) return false;
    this.heartbeat.remove(conn);
    const left = this.countForIp(conn.info.ip) - 1;
    if (left > 0) this.perIp.set(conn.info.ip, left);
    else this.perIp.delete(conn.info.ip);
    this.options.metrics.connections.set(this.conns.size);
    return this.leave(conn);
  }

  /** Drops a subscription; true when the node holds no connection of that team any more. */
  unsubscribe(sub: Subscription): boolean {
    if (sub.conn.subs?.get(sub.teamId) !== sub) return false;
    sub.conn.subs.delete(sub.teamId);
    // As before the first subscribe: most connections never follow another team.
    if (sub.conn.subs.size === 0) sub.conn.subs = undefined;
    return this.leave(sub);
  }

  private leave(member: Membership): boolean {
    const team = this.teams.get(member.teamId);
    if (!team?.members.delete(member)) return false;
    if (team.members.size > 0) return false;
    clearTimeout(team.window);
    this.teams.delete(member.teamId);
    return true;
  }

  /**
   * Bus delivery: one WebSocket frame per message, the same Buffer to every local
   * recipient, built only when the node has one. A team message releases the team's
   * held presence; a direct message only what is held for the connections it writes
   * to, as a reply does (the others' window goes on).
   */
  message(delivery: Delivery): void {
    const team = this.teams.get(delivery.teamId);
    if (!team) return;
    const { origin, to, fromId, seq, epoch } = delivery;
    const direct = to !== undefined;
    if (!direct) this.releasePresence(team);
    let frame: Buffer | undefined;
    let delivered = 0;
    for (const conn of team.members) {
      if (
        conn.info.connId === origin ||
        (direct && conn.info.userId !== to && conn.info.userId !== fromId)
      ) {
        // Not for this connection, but a new epoch is news to every member, the sender too.
        if (conn.epoch !== epoch || conn.pending) {
          if (direct) this.releaseTo(conn);
          this.deliver(conn, undefined, seq, epoch);
        }
        continue;
      }
      frame ??= textFrame(delivery.frame);
      if (direct) this.releaseTo(conn);
      this.deliver(conn, frame, seq, epoch);
      delivered++;
    }
    if (delivered > 0) this.options.metrics.deliveries.inc(delivered);
  }

  gap(teamId: string, epoch: string, seq: number): void {
    const team = this.teams.get(teamId);
    if (!team) return;
    this.releasePresence(team);
    for (const conn of team.members) this.deliver(conn, undefined, seq + 1, epoch, true);
  }

  event(event: ClusterEvent): void {
    if (event.kind === 'kick') {
      this.kick(event.connId);
      return;
    }
    if (event.kind === 'ban') {
      this.closeBanned(event.ban.userId, event.ban.teamId);
      return;
    }
    if (event.kind === 'unban') return;
    const team = this.teams.get(event.teamId);
    if (!team) return;
    const frame = textFrame(
      encodeFrame({ type: 'presence', event: event.event, teamId: event.teamId, user: event.user }),
    );
    if (this.options.presenceWindowMs === 0) {
      this.presenceTo(team, frame, event.user.id, this.added);
      return;
    }
    if (team.window !== undefined) {
      team.held.push({ frame, userId: event.user.id, addedBefore: this.added });
      return;
    }
    this.presenceTo(team, frame, event.user.id, this.added);
    this.openWindow(team);
  }

  private presenceTo(team: LocalTeam, frame: Buffer, userId: string, addedBefore: number): void {
    for (const conn of team.members) {
      if (presenceDue(conn, userId, addedBefore)) this.deliver(conn, frame, 0, '');
    }
  }

  /** Sized by the team's members when it opens: a join storm lengthens the next one. */
  private openWindow(team: LocalTeam): void {
    team.window = setTimeout(
      () => {
        team.window = undefined;
        if (team.held.length === 0) return;
        this.releasePresence(team);
        this.openWindow(team);
      },
      presenceWindowMs(this.options.presenceWindowMs, team.members.size),
    );
    team.window.unref();
  }

  /**
   * Sends the held frames, in order. They are concatenated once for the team, and
   * each member gets every run of consecutive frames due to it (those held after
   * it joined, less those about its own user, less those a reply already gave it:
   * Hub.releaseTo) as one slice of that Buffer: in a join storm one or two write
   * calls per member instead of one per join, the same bytes on the wire.
   *
   * Frames are held in the order of events, so `addedBefore` never decreases: the
   * frames due to a member are a suffix of `held` (found by bisection, or where
   * the member's cursor points if further), less the few about its own user
   * (looked up by user). A release costs O(held + members x log held), not
   * O(held x members): a team of 2,000 filling up holds about 75 joins per window
   * and releases to up to 2,000 members.
   */
  private releasePresence(team: LocalTeam): void {
    if (team.held.length === 0) return;
    const held = team.held;
    const base = team.heldBase;
    team.held = [];
    team.heldBase += held.length;
    const all = held.length === 1 ? held[0]!.frame : Buffer.concat(held.map((h) => h.frame));
    // ends[i]: where frame i ends in `all`.
    const ends: number[] = [];
    const aboutUser = new Map<string, number[]>();
    let end = 0;
    for (let i = 0; i < held.length; i++) {
      const { frame, userId } = held[i]!;
      ends.push((end += frame.length));
      const indexes = aboutUser.get(userId);
      if (indexes === undefined) aboutUser.set(userId, [i]);
      else indexes.push(i);
    }
    const slices: HeldSlices = { all, ends };
    for (const member of team.members) {
      let from = firstDueTo(member, held, base);
      const own = aboutUser.get(member.info.userId);
      if (own !== undefined) {
        for (const i of own) {
          if (i < from) continue;
          if (i > from) this.deliver(member, heldSlice(slices, from, i), 0, '');
          from = i + 1;
        }
      }
      if (from < held.length) this.deliver(member, heldSlice(slices, from, held.length), 0, '');
    }
  }

  /**
   * Sends one membership what is held for it and it was not given yet, in order,
   * and moves its cursor past the team's held frames: they stay held for the
   * others, whose window a reply to this connection must not cut short.
   */
  private releaseTo(member: Membership): void {
    const team = member.team;
    if (team === undefined || team.held.length === 0) return;
    const held = team.held;
    const given = team.heldBase + held.length;
    if (member.presenceGiven >= given) return;
    const from = firstDueTo(member, held, team.heldBase);
    member.presenceGiven = given;
    const userId = member.info.userId;
    let run: Buffer[] = [];
    const sendRun = (): void => {
      if (run.length === 0) return;
      this.deliver(member, run.length === 1 ? run[0]! : Buffer.concat(run), 0, '');
      run = [];
    };
    for (let i = from; i < held.length; i++) {
      const h = held[i]!;
      if (h.userId === userId) sendRun();
      else run.push(h.frame);
    }
    sendRun();
  }

  /** Sends a frame made by textFrame (a reply), after the welcome (see `pending`). */
  send(conn: LocalConnection, frame: Buffer): void {
    // Nothing overtakes a held presence frame, so a reply (a pong) proves it arrived.
    this.releaseTo(conn);
    if (conn.subs !== undefined) {
      for (const sub of conn.subs.values()) this.releaseTo(sub);
    }
    this.deliver(conn, frame, 0, '');
  }

  /**
   * Writes a frame in order with what the connection was told. For a message
   * (seq > 0): one of an older epoch is dropped (the client was told of a reset
   * after it), one of a newer epoch is preceded by an `epoch` frame, one already
   * sent or covered is dropped. `frame` is undefined for a message the connection
   * may not see. `lost` marks a gap notice: the messages before `seq` could not be
   * delivered, and a connection that had not seen them is told with an `epoch` frame.
   */
  private deliver(
    member: Membership,
    frame: Buffer | undefined,
    seq: number,
    epoch: string,
    lost = false,
  ): void {
    const conn = member.conn;
    if (member.pending) {
      if (conn.socket.readyState !== WebSocket.OPEN) return;
      // Covered by the head already: a lagging pub/sub copy must not count against
      // the bound below, or a resume on a busy team could be cut for frames it never
      // needed.
      if (covered(member, seq, epoch)) return;
      // A long replay to a slow client must not turn into an unbounded queue: past
      // the same bound as the socket's buffer the client is told (4008, resume),
      // never silently trimmed.
      // Entries without a frame (messages for others, gap notices) count too, or a busy
      // team's direct traffic could grow the queue without a byte ever being counted.
      const bytes = pendingBytesOf(frame);
      if (member.pendingBytes + bytes > this.options.maxBufferedBytes) {
        this.options.log.warn(
          { connId: conn.info.connId, pending: member.pendingBytes + bytes },
          'slow consumer closed',
        );
        conn.socket.close(CloseCode.slowConsumer, 'slow consumer');
        member.pending = [];
        member.pendingBytes = 0;
        return;
      }
      member.pending.push({ seq, epoch, frame, lost });
      member.pendingBytes += bytes;
      return;
    }
    if (seq > 0) {
      if (epoch !== member.epoch) {
        if (!isNewerEpoch(epoch, member.epoch)) return;
        this.tell(member, epoch, seq - 1);
        // A gap notice covers only what comes before `seq`: that message is still to come.
        if (lost) return;
      } else if (lost) {
        if (seq - 1 > member.seen) this.tell(member, epoch, seq - 1);
        return;
      } else if (seq <= member.seen) {
        return;
      }
      member.seen = seq;
    }
    if (frame !== undefined) this.write(conn, frame);
  }

  /** The `epoch` frame: what the client knew of the team's seqs no longer holds. */
  private tell(member: Membership, epoch: string, seq: number): void {
    this.write(
      member.conn,
      textFrame(encodeFrame({ type: 'epoch', teamId: member.teamId, epoch, seq })),
    );
    member.epoch = epoch;
    member.seen = seq;
  }

  /**
   * The head a joining membership was told of (welcome or `subscribed`): what
   * waits for it and what comes before flush is queued only past that head.
   */
  cover(member: Membership, epoch: string, coveredSeq: number): void {
    member.coveredEpoch = epoch;
    member.coveredSeq = coveredSeq;
    const pending = member.pending;
    if (!pending) return;
    const kept = pending.filter((p) => !covered(member, p.seq, p.epoch));
    if (kept.length === pending.length) return;
    member.pending = kept;
    member.pendingBytes = kept.reduce((sum, p) => sum + pendingBytesOf(p.frame), 0);
  }

  /**
   * Sends what waited during the handshake, minus messages of `epoch` already
   * covered up to `coveredSeq`. Held presence frames stay held: whatever waited
   * here was queued before them (queueing a message or reply releases them first).
   */
  flush(member: Membership, epoch: string, coveredSeq: number): void {
    const pending = member.pending ?? [];
    member.pending = null;
    member.pendingBytes = 0;
    member.epoch = epoch;
    member.seen = coveredSeq;
    for (const p of pending) this.deliver(member, p.frame, p.seq, p.epoch, p.lost);
  }

  /**
   * Writes past the pending queue (the welcome and replay frames go this way).
   * The frame goes straight to the TCP socket, which stays corked until the event
   * loop turns, so every frame a socket gets in one turn leaves in one write.
   */
  write(conn: LocalConnection, frame: Buffer): void {
    if (conn.socket.readyState !== WebSocket.OPEN) return;
    const raw = conn.raw;
    if (!conn.corked) {
      // Corked already by holdUpgrade: what it holds (the 101) was not offered to the
      // kernel yet either. Not writableCorked alone, which that cork also sets.
      conn.corkedBytes = raw.writableCorked > 0 ? raw.writableLength : 0;
      // The first write: the 101 leaves with it at the end of this turn.
      if (this.waitingUpgrades.delete(raw)) this.upgrades.push(raw);
      raw.cork();
      conn.corked = true;
      this.corked.push(conn);
      this.scheduleUncork();
    }
    // ws never holds frames back here (no compression), so writableLength is its
    // bufferedAmount. What this turn corked has not been offered to the kernel yet: a
    // burst to a client that reads is not a slow consumer. What the kernel left
    // after earlier turns' uncorks is.
    const backlog = raw.writableLength - conn.corkedBytes;
    if (backlog > this.options.maxBufferedBytes) {
      this.options.log.warn(
        { connId: conn.info.connId, buffered: backlog },
        'slow consumer closed',
      );
      conn.socket.close(CloseCode.slowConsumer, 'slow consumer');
      return;
    }
    raw.write(frame);
    conn.corkedBytes += frame.length;
  }

  kick(connId: string): boolean {
    const conn = this.conns.get(connId);
    if (!conn) return false;
    conn.socket.close(CloseCode.kicked, 'closed by an admin');
    return true;
  }

  /** Closes the user's sockets on this node, in one team or in all, with 4003. */
  closeBanned(userId: string, teamId: string | null): number {
    const conns =
      teamId === null ? this.conns.values() : (this.teams.get(teamId)?.members.values() ?? []);
    let closed = 0;
    // A copy: ending a subscription takes it out of the team's set.
    for (const member of [...conns]) {
      if (member.info.userId !== userId) continue;
      this.ban(member);
      closed++;
    }
    return closed;
  }

  /** A ban on the home team closes the socket; on a subscribed team, ends that subscription. */
  private ban(member: Membership): void {
    const { connId, userId } = member.info;
    if (member instanceof Subscription) {
      this.options.log.info({ connId, userId, teamId: member.teamId }, 'banned subscription ended');
      member.end();
      return;
    }
    this.options.log.info({ connId, userId, teamId: member.teamId }, 'banned socket closed');
    member.conn.socket.close(CloseCode.banned, 'banned');
  }

  /** Starts the heartbeat (heartbeat.ts). */
  start(): void {
    this.heartbeat.start();
  }

  /** Closes every socket with `code` and waits for them to go, terminating stragglers. */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    this.heartbeat.stop();
    this.releaseAllUpgrades();
    for (const team of this.teams.values()) {
      clearTimeout(team.window);
      team.window = undefined;
      this.releasePresence(team);
    }
    const closing = [...this.conns.values()].map(
      (conn) =>
        new Promise<void>((resolve) => {
          if (conn.socket.readyState === WebSocket.CLOSED) return resolve();
          conn.socket.once('close', () => resolve());
          conn.socket.close(code, reason);
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(closing), deadline]);
    clearTimeout(timer);
    for (const conn of this.conns.values()) conn.socket.terminate();
  }
}

/**
 * Whether a presence frame about `userId`, held when the team's members added up to
 * `addedBefore`, goes to `member`: the user's own connections know they are online,
 * later ones were not there yet.
 */
function presenceDue(member: Membership, userId: string, addedBefore: number): boolean {
  return member.info.userId !== userId && member.addedAt <= addedBefore;
}

/** Whether the head `member` was told of (Hub.cover) already covers this message. */
function covered(member: Membership, seq: number, epoch: string): boolean {
  return seq > 0 && seq <= member.coveredSeq && epoch === member.coveredEpoch;
}

/** What a pending entry counts against the bound: its frame, or a fixed cost without one. */
function pendingBytesOf(frame: Buffer | undefined): number {
  return frame?.length ?? PENDING_ENTRY_BYTES;
}

/** Held frames concatenated (Hub.releasePresence), and where each one ends. */
interface HeldSlices {
  all: Buffer;
  ends: number[];
}

/** Frames `from` to `to` (exclusive) of a release, as one Buffer. */
function heldSlice({ all, ends }: HeldSlices, from: number, to: number): Buffer {
  const start = from === 0 ? 0 : ends[from - 1]!;
  const stop = ends[to - 1]!;
  return start === 0 && stop === all.length ? all : all.subarray(start, stop);
}

/**
 * The first of a team's held frames (the first of them its `base`th) still due to
 * `member`: held since it was added, and past what a reply already gave it.
 */
function firstDueTo(member: Membership, held: LocalTeam['held'], base: number): number {
  return Math.max(firstHeldFor(held, member.addedAt), member.presenceGiven - base);
}

/**
 * The first held frame a member added at `addedAt` may get (held.length if none):
 * the first held when at least that many members had been added.
 */
function firstHeldFor(held: LocalTeam['held'], addedAt: number): number {
  let low = 0;
  let high = held.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (held[mid]!.addedBefore >= addedAt) high = mid;
    else low = mid + 1;
  }
  return low;
}

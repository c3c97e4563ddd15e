import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import WebSocket, { type RawData } from 'ws';
import type { Bus } from '../bus';
import { AppError, toAppError, type ErrorCode } from '../errors';
import { encodeAck, encodeFrame, parseClientFrame, type ClientFrame } from '../frames';
import type { History } from '../history';
import type { Messaging } from '../messaging';
import type { Metrics } from '../metrics';
import { subscriptionEntryId, type Presence } from '../presence';
import { TokenBucket } from '../rate-limiter';
import type { Store } from '../store';
import type { ConnectionInfo, UserRef } from '../types';
import { CloseCode } from '../../protocol/close-codes';
import { errorFrame } from './error-frame';
import { greet, greetSubscription } from './greeting';
import type { HandshakeParams } from './handshake-params';
import { LocalConnection, Subscription, type Hub } from './hub';
import type { PeerSocket } from './peer-socket';
import { readReply, type Reader } from './read-reply';
import { ReplyQueue } from './reply-queue';
import { textFrame } from './ws-frame';

export interface SessionDeps {
  nodeId: string;
  heartbeatMs: number;
  rateLimitPerS: number;
  rateLimitBurst: number;
  /** Stored messages a resume replays at most before it ends with complete:false. */
  resumeMaxMessages: number;
  /** Teams one connection follows at most, its home team included. */
  maxTeamsPerConnection: number;
  hub: Hub;
  bus: Bus;
  history: History;
  presence: Presence;
  store: Store;
  messaging: Messaging;
  metrics: Metrics;
  log: Logger;
}

/** What the handshake checks established before the upgrade. */
export interface SessionOpening {
  params: Omit<HandshakeParams, 'token'>;
  ip: string;
  /** ms since epoch when the token expires, when auth is on. */
  expiresAt?: number;
  /** When auth is on, the teams besides the home team it may subscribe to; else any. */
  teams?: string[];
}

/** `ready` of a session whose set-up has not started. */
const NOT_STARTED: Promise<boolean> = Promise.resolve(false);

/**
 * Dropped frames in a row after which a flooding client is cut off with 1008:
 * a well-behaved client that hits the limit backs off long before this.
 */
export const ABUSE_THRESHOLD = 200;

type MessageFrame = Extract<ClientFrame, { type: 'team' | 'direct' }>;
type SubscribeFrame = Extract<ClientFrame, { type: 'subscribe' }>;

function toText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
}

/**
 * One connection's life: set-up (hub, subscription, presence, welcome, resume),
 * frames in and their replies, clean-up once the socket closes. It keeps the socket
 * and the services it was given, never a request, so it runs without a server.
 */
export class Session {
  readonly info: ConnectionInfo;
  private readonly conn: LocalConnection;
  // What set-up and subscribe need of the opening, and no more: a connection keeps
  // its fields for its whole life, and an object or closure less per connection is
  // less for the young-generation GC to copy in a connect storm.
  /** The client's resume point (docs/PROTOCOL.md §4), read by set-up. */
  private readonly since: number | undefined;
  private readonly epoch: string | undefined;
  /** The teams besides the home team the token allows; undefined: any. */
  private readonly teams: string[] | undefined;
  /** Settles once set-up is over: true if the connection opened. */
  private ready: Promise<boolean> = NOT_STARTED;
  /** The clean-up after the close, once the socket closed. */
  private cleaned: Promise<void> | undefined;
  /** What `ended()` returned, and its resolve when it was asked for before the close. */
  private endedPromise: Promise<void> | undefined;
  private onEnded: (() => void) | undefined;
  // The rate limit, the reply queue and the reader are made on the first frame: in
  // a big team most connections only listen, and a connect is cheaper without them.
  // A bucket made then starts as full as one made at connect time would be by then.
  private bucket: TokenBucket | undefined;
  private replyQueue: ReplyQueue | undefined;
  private reader: Reader | undefined;
  /** Rate-limited frames in a row. */
  private dropped = 0;
  /** Set once presence counts this connection: clean-up must take it out again. */
  private inPresence = false;
  /** True until set-up is over: frames that arrive meanwhile wait in `early`. */
  private settingUp = true;
  private early: [RawData, boolean][] | undefined;
  /**
   * Presence entries of subscriptions, by team: clean-up must take them out again.
   * `added` settles once the add is done: a remove sent before it would find nothing
   * in Redis, and the add landing after it would count the user there for good.
   */
  private entries: Map<string, { entry: ConnectionInfo; added: Promise<unknown> }> | undefined;
  /** Subscriptions whose subscribe still runs: that answers a ban, after `subscribed`. */
  private starting: Set<Subscription> | undefined;

  constructor(
    private readonly deps: SessionDeps,
    private readonly socket: PeerSocket,
    opening: SessionOpening,
  ) {
    const { params } = opening;
    this.since = params.since;
    this.epoch = params.epoch;
    this.teams = opening.teams;
    this.info = {
      connId: randomUUID(),
      userId: params.id,
      name: params.name,
      teamId: params.teamId,
      node: deps.nodeId,
      ip: opening.ip,
      connectedAt: new Date().toISOString(),
    };
    this.conn = new LocalConnection(this.info, socket, opening.expiresAt);
  }

  /** Made when a frame or event needs it: most connections seldom do. */
  private get user(): UserRef {
    return { id: this.info.userId, name: this.info.name };
  }

  private get replies(): ReplyQueue {
    this.replyQueue ??= new ReplyQueue(
      (frame) => this.deps.hub.send(this.conn, frame),
      (err) => this.deps.log.error({ err, connId: this.info.connId }, 'reply failed'),
    );
    return this.replyQueue;
  }

  /** Starts the set-up and listens to the socket (see `ended`). */
  run(): void {
    this.deps.metrics.connectionsOpened.inc();
    this.ready = this.setUp();
    this.socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    this.socket.on('close', (code) => this.closed(code));
  }

  /**
   * Resolves once the socket has closed and the connection is cleaned up; never
   * while it is open. Made only when asked for: the server never waits on it.
   */
  ended(): Promise<void> {
    this.endedPromise ??=
      this.cleaned ??
      new Promise((resolve) => {
        this.onEnded = resolve;
      });
    return this.endedPromise;
  }

  private closed(code: number): void {
    const cleaned = this.ready.then(() => this.cleanUp(code));
    this.cleaned = cleaned;
    if (this.onEnded !== undefined) void cleaned.then(this.onEnded);
  }

  /** Opens the connection, then starts the frames that arrived meanwhile. */
  private async setUp(): Promise<boolean> {
    const open = await this.open();
    const waiting = this.early;
    this.settingUp = false;
    this.early = undefined;
    if (open && waiting !== undefined) {
      for (const [data, isBinary] of waiting) this.accept(data, isBinary);
    }
    return open;
  }

  /** Resolves true once the connection is open, false if set-up failed (the socket is closed). */
  private async open(): Promise<boolean> {
    const { hub, bus, history, presence, log } = this.deps;
    const { info, user, conn } = this;
    try {
      hub.add(conn);
      // A ban that arrived after the handshake check: the hub has closed it (4003).
      // Going on would announce a join (and a leave) for a user who never got in.
      if (this.socket.readyState !== WebSocket.OPEN) return false;
      await bus.subscribe(info.teamId);
      // Bookkeeping the welcome does not need: a hung SQL Server must not hold the
      // handshake (the store writes the record once it is back).
      if (hub.claimTeamRecord(conn)) {
        this.deps.store.ensureTeam(info.teamId).catch((err: unknown) => {
          hub.teamRecordFailed(conn);
          log.warn({ err, teamId: info.teamId }, 'recording the team failed');
        });
      }
      // The welcome's head, read beside the presence add rather than after it: on
      // Redis both go in the same turn's write, one round trip less per join. The
      // subscription is confirmed, so no message after this head can be missed.
      const headRead = history.head(info.teamId);
      headRead.catch(() => undefined);
      // On Redis the add's own script publishes the join: one command and round trip less.
      const { first, announced } = await presence.add(info, true);
      this.inPresence = true;
      if (first && announced !== true)
        await bus.emit({ kind: 'presence', teamId: info.teamId, event: 'join', user });
      const { since, epoch } = this;
      const { heartbeatMs, resumeMaxMessages } = this.deps;
      const options = { heartbeatMs, since, epoch, resumeMaxMessages };
      if (!(await greet(history, hub, conn, options, headRead))) return false;
      log.info(
        { connId: info.connId, userId: info.userId, teamId: info.teamId, ip: info.ip },
        'socket open',
      );
      return true;
    } catch (err) {
      // A backend outage is logged where the connection to it drops; here it is one of many.
      const outage = err instanceof AppError && err.code !== 'internal';
      log[outage ? 'warn' : 'error']({ err, connId: info.connId }, 'socket setup failed');
      this.socket.close(CloseCode.internal, 'backend unavailable');
      return false;
    }
  }

  private receive(data: RawData, isBinary: boolean): void {
    this.bucket ??= new TokenBucket(this.deps.rateLimitPerS, this.deps.rateLimitBurst);
    if (!this.bucket.take()) {
      if (++this.dropped >= ABUSE_THRESHOLD) {
        this.socket.close(CloseCode.policy, 'rate limit abuse');
      } else {
        // In the reply queue too, so it does not overtake the acks of earlier frames.
        this.replies.reply(this.errorFrame('rate_limited', 'rate limit exceeded; message dropped'));
      }
      return;
    }
    this.dropped = 0;
    if (this.settingUp) (this.early ??= []).push([data, isBinary]);
    else this.accept(data, isBinary);
  }

  /** Starts one frame's work; its reply goes out after those of the frames before it. */
  private accept(data: RawData, isBinary: boolean): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    let frame: ClientFrame;
    try {
      if (isBinary) throw new AppError('bad_request', 'binary frames are not supported; send text');
      frame = parseClientFrame(toText(data));
    } catch (err) {
      this.replies.reply(this.failure(err, undefined));
      return;
    }
    if (frame.type === 'team' || frame.type === 'direct') {
      const message = frame;
      this.replies.message(() => this.publish(message));
      return;
    }
    const fail = (err: unknown): Buffer => this.failure(err, undefined);
    if (frame.type === 'subscribe') {
      const request = frame;
      this.replies.read(() => this.subscribe(request), fail);
      return;
    }
    if (frame.type === 'unsubscribe') {
      const { teamId } = frame;
      this.replies.read(() => this.unsubscribe(teamId), fail);
      return;
    }
    const request = frame;
    this.replies.read(
      async () =>
        readReply(request, this.reading(), request.type === 'ping' ? '' : this.followed(request)),
      fail,
    );
  }

  private reading(): Reader {
    this.reader ??= {
      viewer: this.info.userId,
      presence: this.deps.presence,
      history: this.deps.history,
    };
    return this.reader;
  }

  /**
   * The team a frame acts on: its `teamId` when the connection follows that team,
   * the home team without one; `forbidden` for a team it does not follow.
   */
  private followed(frame: { teamId?: string }): string {
    const { teamId } = frame;
    if (teamId === undefined || teamId === this.info.teamId) return this.info.teamId;
    if (this.conn.subs?.has(teamId) !== true) {
      throw new AppError('forbidden', `not subscribed to team ${teamId}; send subscribe first`);
    }
    return teamId;
  }

  /**
   * docs/PROTOCOL.md §10: `subscribed` with the team's head, then (with `since`) the
   * replay and `resumed`, then its live messages. A read in the reply queue, so the
   * frames after it act on the subscription it made.
   */
  private async subscribe(frame: SubscribeFrame): Promise<Buffer | undefined> {
    if (this.socket.readyState !== WebSocket.OPEN) return undefined;
    const { hub, bus, history, presence, store, log, maxTeamsPerConnection } = this.deps;
    const { info, conn } = this;
    const { teamId } = frame;
    if (teamId === info.teamId || conn.subs?.has(teamId) === true) {
      throw new AppError('bad_request', `already subscribed to team ${teamId}`);
    }
    if (this.teams !== undefined && !this.teams.includes(teamId)) {
      throw new AppError('forbidden', `the token does not allow team ${teamId}`);
    }
    if (1 + (conn.subs?.size ?? 0) >= maxTeamsPerConnection) {
      throw new AppError(
        'bad_request',
        `at most ${maxTeamsPerConnection} teams per connection; unsubscribe first`,
      );
    }
    if (hub.isBanned(info.userId, teamId))
      throw new AppError('forbidden', 'banned from this team by an admin');
    const sub: Subscription = new Subscription(conn, teamId, () => this.banned(sub));
    const starting = (this.starting ??= new Set());
    starting.add(sub);
    const ended = (): Buffer | undefined => {
      starting.delete(sub);
      return conn.subs?.get(teamId) === sub ? undefined : this.unsubscribedFrame(teamId);
    };
    hub.subscribe(sub);
    try {
      await bus.subscribe(teamId);
      // Ended meanwhile (the socket closed, or a ban): its clean-up found no entry to take out.
      if (conn.subs?.get(teamId) !== sub) return ended();
      store
        .ensureTeam(teamId)
        .catch((err: unknown) => log.warn({ err, teamId }, 'recording the team failed'));
      const entry: ConnectionInfo = {
        ...info,
        connId: subscriptionEntryId(info.connId, teamId),
        teamId,
        home: { connId: info.connId, teamId: info.teamId },
      };
      const adding = presence.add(entry, true);
      (this.entries ??= new Map()).set(teamId, { entry, added: adding.catch(() => undefined) });
      const { first, announced } = await adding;
      if (first && announced !== true)
        await bus.emit({ kind: 'presence', teamId, event: 'join', user: this.user });
      const { since, epoch } = frame;
      const { resumeMaxMessages } = this.deps;
      await greetSubscription(history, hub, sub, { since, epoch, resumeMaxMessages });
      return ended();
    } catch (err) {
      starting.delete(sub);
      await this.drop(sub);
      throw err;
    }
  }

  private unsubscribedFrame(teamId: string): Buffer {
    return textFrame(encodeFrame({ type: 'unsubscribed', teamId }));
  }

  private async unsubscribe(teamId: string): Promise<Buffer> {
    if (teamId === this.info.teamId) {
      throw new AppError('bad_request', 'the home team cannot be left; close the socket');
    }
    const sub = this.conn.subs?.get(teamId);
    // Unsubscribing twice is no error: the client wants to be out, and is.
    if (sub) await this.drop(sub);
    return this.unsubscribedFrame(teamId);
  }

  /** A ban on a subscribed team: the client hears `unsubscribed` at once. */
  private banned(sub: Subscription): void {
    if (this.conn.subs?.get(sub.teamId) !== sub) return;
    void this.drop(sub);
    // Before its `subscribed` went out it would be news of nothing: the subscribe answers it.
    if (this.starting?.has(sub) !== true)
      this.deps.hub.send(this.conn, this.unsubscribedFrame(sub.teamId));
  }

  /** Takes a subscription out of the hub, the bus and presence; never rejects. */
  private async drop(sub: Subscription): Promise<void> {
    const { hub, bus, presence, log } = this.deps;
    const { teamId } = sub;
    try {
      if (hub.unsubscribe(sub)) await bus.unsubscribe(teamId);
      const counted = this.entries?.get(teamId);
      if (counted) {
        this.entries?.delete(teamId);
        await counted.added;
        const { last } = await presence.remove(counted.entry);
        if (last) await bus.emit({ kind: 'presence', teamId, event: 'leave', user: this.user });
      }
    } catch (err) {
      log.warn({ err, connId: this.info.connId, teamId }, 'unsubscribe incomplete');
    }
  }

  /** Resolves with the ack or error frame; never rejects. */
  private publish(message: MessageFrame): Promise<Buffer | undefined> {
    // Held behind a read while the socket closed: the client never hears of it, so
    // it is not sent (without a ref, a retry would make it twice).
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.resolve(undefined);
    const { info, user } = this;
    let teamId: string;
    try {
      teamId = this.followed(message);
    } catch (err) {
      return Promise.resolve(this.failure(err, message.ref));
    }
    return this.deps.messaging
      .send({
        teamId,
        from: user,
        ...(message.type === 'direct' ? { to: message.to } : {}),
        data: message.data,
        origin: info.connId,
        source: 'socket',
        ...(message.ref === undefined ? {} : { ref: message.ref }),
      })
      .then(
        (ack) => textFrame(encodeAck(message.ref, ack.id, ack.seq)),
        (err: unknown) => this.failure(err, message.ref),
      );
  }

  /** The error frame for a failed frame; only unexpected failures are logged. */
  private failure(err: unknown, ref: string | undefined): Buffer {
    const error = toAppError(err);
    if (error.code === 'internal') {
      this.deps.log.error({ err, connId: this.info.connId }, 'frame failed');
    }
    return this.errorFrame(error.code, error.message, ref);
  }

  private errorFrame(code: ErrorCode, message: string, ref?: string): Buffer {
    const { wire, frame } = errorFrame(code, message, ref);
    this.deps.metrics.framesRejected.inc({ code: wire });
    return frame;
  }

  private async cleanUp(code: number): Promise<void> {
    const { hub, bus, presence, metrics, log } = this.deps;
    const { info, user } = this;
    metrics.connectionsClosed.inc({ code: String(code) });
    // Subscriptions first: a ban's `end` must find nothing to do once the socket is gone.
    for (const sub of [...(this.conn.subs?.values() ?? [])]) await this.drop(sub);
    try {
      if (hub.remove(this.conn)) await bus.unsubscribe(info.teamId);
      if (this.inPresence) {
        const { last } = await presence.remove(info);
        if (last) await bus.emit({ kind: 'presence', teamId: info.teamId, event: 'leave', user });
      }
    } catch (err) {
      log.warn({ err, connId: info.connId }, 'socket cleanup incomplete');
    }
    log.info({ connId: info.connId, code }, 'socket closed');
  }
}

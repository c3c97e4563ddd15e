import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import type { AppState } from '../middleware/app-state';
import type { Handshake } from '../middleware/handshake';
import { CloseCode } from '../protocol/close-codes';
import { SOCKET_ERROR_CODES, type SocketErrorCode } from '../protocol/errors';
import type { Bus } from '../services/bus';
import { AppError, toAppError, type ErrorCode } from '../services/errors';
import {
  encodeAck,
  encodeFrame,
  messageView,
  parseClientFrame,
  type ClientFrame,
} from '../services/frames';
import type { History } from '../services/history';
import { LocalConnection, type Hub } from '../services/socket/hub';
import type { Messaging } from '../services/messaging';
import type { Metrics } from '../services/metrics';
import type { Presence } from '../services/presence';
import { TokenBucket } from '../services/rate-limiter';
import { resumeReplay } from '../services/socket/resume-replay';
import type { Store } from '../services/store';
import type { ConnectionInfo } from '../services/types';
import { textFrame } from '../services/socket/ws-frame';

export interface SocketDeps {
  nodeId: string;
  heartbeatMs: number;
  rateLimitPerS: number;
  rateLimitBurst: number;
  /** Stored messages a resume replays at most before it ends with complete:false. */
  resumeMaxMessages: number;
  hub: Hub;
  bus: Bus;
  history: History;
  presence: Presence;
  store: Store;
  messaging: Messaging;
  metrics: Metrics;
  log: Logger;
  handshakes: WeakMap<IncomingMessage, Handshake>;
}

const SOCKET_CODES: ReadonlySet<ErrorCode> = new Set(SOCKET_ERROR_CODES);

function isSocketCode(code: ErrorCode): code is SocketErrorCode {
  return SOCKET_CODES.has(code);
}

/** The code a socket `error` frame carries for a refusal (docs/PROTOCOL.md §3). */
function socketCode(code: ErrorCode): SocketErrorCode {
  if (isSocketCode(code)) return code;
  return code === 'payload_too_large' || code === 'not_found' || code === 'conflict'
    ? 'bad_request'
    : 'internal';
}

function toText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
}

/**
 * Dropped frames in a row after which a flooding client is cut off with 1008:
 * a well-behaved client that hits the limit backs off long before this.
 */
export const ABUSE_THRESHOLD = 200;

const PONG = textFrame(encodeFrame({ type: 'pong' }));

/** The `/socket` route: it takes the verified handshake and runs one connection's life. */
export function socketRoute(deps: SocketDeps): Middleware<AppState> {
  return async (ctx) => {
    const handshake = deps.handshakes.get(ctx.req);
    if (!handshake) throw new Error('socket without a verified handshake');
    deps.handshakes.delete(ctx.req);
    // Only the socket and the handshake go on: the Koa context is dropped here.
    openConnection(deps, ctx.websocket, handshake);
  };
}

function openConnection(deps: SocketDeps, socket: WebSocket, handshake: Handshake): void {
  const { hub, bus, history, presence, metrics, log } = deps;
  const { params } = handshake;
  const info: ConnectionInfo = {
    connId: randomUUID(),
    userId: params.id,
    name: params.name,
    teamId: params.teamId,
    node: deps.nodeId,
    ip: handshake.ip,
    connectedAt: new Date().toISOString(),
  };
  const user = { id: info.userId, name: info.name };
  const conn = new LocalConnection(info, socket, handshake.expiresAt);
  const bucket = new TokenBucket(deps.rateLimitPerS, deps.rateLimitBurst);
  let dropped = 0;
  let inPresence = false;
  metrics.connectionsOpened.inc();

  /** Resolves true once the connection is open, false if setup failed (the socket is closed). */
  async function setup(): Promise<boolean> {
    try {
      hub.add(conn);
      await bus.subscribe(info.teamId);
      // Bookkeeping the welcome does not need: a hung SQL Server must not hold the
      // handshake (the store writes the record once it is back).
      deps.store
        .ensureTeam(info.teamId)
        .catch((err: unknown) =>
          log.warn({ err, teamId: info.teamId }, 'recording the team failed'),
        );
      const { first } = await presence.add(info);
      inPresence = true;
      if (first) await bus.emit({ kind: 'presence', teamId: info.teamId, event: 'join', user });
      const head = await history.head(info.teamId);
      hub.write(
        conn,
        textFrame(
          encodeFrame({
            type: 'welcome',
            connId: info.connId,
            user,
            teamId: info.teamId,
            seq: head.seq,
            epoch: head.epoch,
            heartbeatMs: deps.heartbeatMs,
          }),
        ),
      );
      // The replay ends at the welcome's head and stays in its epoch (a reset meanwhile
      // makes it incomplete). Live messages wait in the pending queue: those up to the
      // head are dropped at flush, those of a newer epoch come after an `epoch` frame.
      const { epoch, seq: covered } = head;
      if (params.since !== undefined) {
        const replay = await resumeReplay(history, hub, conn, {
          teamId: info.teamId,
          viewer: info.userId,
          since: params.since,
          epoch: params.epoch,
          head,
          maxMessages: deps.resumeMaxMessages,
        });
        if (!replay.open) return false;
        hub.write(
          conn,
          textFrame(
            encodeFrame({
              type: 'resumed',
              since: params.since,
              seq: covered,
              complete: replay.complete,
            }),
          ),
        );
      }
      hub.flush(conn, epoch, covered);
      log.info(
        { connId: info.connId, userId: info.userId, teamId: info.teamId, ip: info.ip },
        'socket open',
      );
      return true;
    } catch (err) {
      // A backend outage is logged where the connection to it drops; here it is one of many.
      const outage = err instanceof AppError && err.code !== 'internal';
      log[outage ? 'warn' : 'error']({ err, connId: info.connId }, 'socket setup failed');
      socket.close(CloseCode.internal, 'backend unavailable');
      return false;
    }
  }

  /** The last read request, while it runs: messages after it wait for it. */
  let reading: Promise<Buffer | undefined> | undefined;

  /**
   * Starts one frame's work and resolves with its reply; never rejects. A message
   * is handed to the bus at once, in arrival order, without waiting for the one
   * before it to be stored: the backend takes them in that order (the memory bus
   * synchronously, Redis over one connection), so seqs still follow the send
   * order, and a publisher's messages share round trips. A read (presence,
   * history, ping) waits for every frame before it, and the frames after it wait
   * for the read, so it sees exactly what was sent before it.
   */
  function begin(
    data: RawData,
    isBinary: boolean,
    before: Promise<void>,
  ): Promise<Buffer | undefined> {
    let frame: ClientFrame;
    try {
      if (isBinary) throw new AppError('bad_request', 'binary frames are not supported; send text');
      frame = parseClientFrame(toText(data));
    } catch (err) {
      return Promise.resolve(failure(err, undefined));
    }
    if (frame.type === 'team' || frame.type === 'direct') {
      const message = frame;
      const publish = (): Promise<Buffer | undefined> => {
        // Held behind a read while the socket closed: the client never hears of it, so
        // it is not sent (without a ref, a retry would make it twice).
        if (socket.readyState !== socket.OPEN) return Promise.resolve(undefined);
        return deps.messaging
          .send({
            teamId: info.teamId,
            from: user,
            ...(message.type === 'direct' ? { to: message.to } : {}),
            data: message.data,
            origin: info.connId,
            source: 'socket',
            ...(message.ref === undefined ? {} : { ref: message.ref }),
          })
          .then(
            (ack) => textFrame(encodeAck(message.ref, ack.id, ack.seq)),
            (err: unknown) => failure(err, message.ref),
          );
      };
      // A read still running must not see messages sent after it.
      return reading ? reading.then(publish) : publish();
    }
    const request = frame;
    const read = before
      .then(() => answer(request))
      .catch((err: unknown) => failure(err, undefined));
    reading = read;
    void read.then(() => {
      if (reading === read) reading = undefined;
    });
    return read;
  }

  async function answer(frame: Exclude<ClientFrame, { type: 'team' | 'direct' }>): Promise<Buffer> {
    switch (frame.type) {
      case 'presence':
        return textFrame(
          encodeFrame({
            type: 'members',
            teamId: info.teamId,
            members: await presence.members(info.teamId),
          }),
        );
      case 'history': {
        const page = await history.before(info.teamId, {
          limit: frame.limit,
          viewer: info.userId,
          ...(frame.before === undefined ? {} : { before: frame.before }),
        });
        return textFrame(
          encodeFrame({
            type: 'history',
            teamId: info.teamId,
            messages: page.messages.map(messageView),
            more: page.more,
          }),
        );
      }
      case 'ping':
        return PONG;
    }
  }

  /** The error frame for a failed frame; only unexpected failures are logged. */
  function failure(err: unknown, ref: string | undefined): Buffer {
    const error = toAppError(err);
    if (error.code === 'internal') log.error({ err, connId: info.connId }, 'frame failed');
    return errorFrame(error.code, error.message, ref);
  }

  function errorFrame(code: ErrorCode, message: string, ref?: string): Buffer {
    const wire = socketCode(code);
    metrics.framesRejected.inc({ code: wire });
    return textFrame(
      encodeFrame({ type: 'error', code: wire, message, ...(ref === undefined ? {} : { ref }) }),
    );
  }

  async function cleanup(code: number): Promise<void> {
    metrics.connectionsClosed.inc({ code: String(code) });
    try {
      if (hub.remove(conn)) await bus.unsubscribe(info.teamId);
      if (inPresence) {
        const { last } = await presence.remove(info);
        if (last) await bus.emit({ kind: 'presence', teamId: info.teamId, event: 'leave', user });
      }
    } catch (err) {
      log.warn({ err, connId: info.connId }, 'socket cleanup incomplete');
    }
    log.info({ connId: info.connId, code }, 'socket closed');
  }

  const ready = setup();
  // Frames that arrive before the welcome wait here; null once the connection is open.
  let early: [RawData, boolean][] | null = [];
  // Replies leave in frame order: each waits for the one before it.
  let replies: Promise<void> = Promise.resolve();

  function accept(data: RawData, isBinary: boolean): void {
    if (socket.readyState !== socket.OPEN) return;
    const reply = begin(data, isBinary, replies);
    queueReply(reply);
  }

  function queueReply(reply: Promise<Buffer | undefined>): void {
    replies = replies
      .then(() => reply)
      .then((frame) => {
        if (frame) hub.send(conn, frame);
      })
      // Nothing here is expected to throw; if it did, later replies must still go.
      .catch((err: unknown) => log.error({ err, connId: info.connId }, 'reply failed'));
  }

  void ready.then((open) => {
    const waiting = early ?? [];
    early = null;
    if (open) for (const [data, isBinary] of waiting) accept(data, isBinary);
  });

  socket.on('pong', () => {
    conn.alive = true;
  });
  socket.on('message', (data, isBinary) => {
    conn.alive = true;
    if (!bucket.take()) {
      if (++dropped >= ABUSE_THRESHOLD) socket.close(CloseCode.policy, 'rate limit abuse');
      // In the reply queue too, so it does not overtake the acks of earlier frames.
      else
        queueReply(
          Promise.resolve(errorFrame('rate_limited', 'rate limit exceeded; message dropped')),
        );
      return;
    }
    dropped = 0;
    if (early) early.push([data, isBinary]);
    else accept(data, isBinary);
  });
  socket.on('close', (code) => {
    void ready.then(() => cleanup(code));
  });
}

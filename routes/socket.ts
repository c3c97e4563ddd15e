import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import type { AppState } from '../middleware/app-state';
import type { Handshake } from '../middleware/handshake';
import type { Bus } from '../services/bus';
import { AppError, toAppError, type ErrorCode } from '../services/errors';
import {
  encodeAck,
  encodeFrame,
  encodeMessageFrame,
  messageView,
  parseClientFrame,
  type ServerFrame,
} from '../services/frames';
import type { History } from '../services/history';
import { CloseCode, LocalConnection, type Hub } from '../services/hub';
import type { Messaging } from '../services/messaging';
import type { Metrics } from '../services/metrics';
import type { Presence } from '../services/presence';
import { TokenBucket } from '../services/rate-limiter';
import type { Store } from '../services/store';
import type { ConnectionInfo } from '../services/types';
import { textFrame } from '../services/ws-frame';

export interface SocketDeps {
  nodeId: string;
  heartbeatMs: number;
  rateLimitPerS: number;
  rateLimitBurst: number;
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

/** Error codes a socket `error` frame may carry (PROTOCOL §2). */
const SOCKET_CODES = new Set<ErrorCode>([
  'bad_request',
  'rate_limited',
  'unavailable',
  'forbidden',
  'internal',
]);

function socketCode(code: ErrorCode): ErrorCode {
  if (SOCKET_CODES.has(code)) return code;
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

  const reply = (frame: ServerFrame) => hub.send(conn, textFrame(encodeFrame(frame)));

  async function setup(): Promise<void> {
    try {
      hub.add(conn);
      await bus.subscribe(info.teamId);
      await deps.store.ensureTeam(info.teamId);
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
      let covered = head.seq;
      if (params.since !== undefined) {
        const replay = await history.replay(info.teamId, {
          since: params.since,
          viewer: info.userId,
          ...(params.epoch === undefined ? {} : { epoch: params.epoch }),
        });
        for (const message of replay.messages)
          hub.write(conn, textFrame(encodeMessageFrame(message)));
        covered = Math.max(covered, replay.head.seq);
        hub.write(
          conn,
          textFrame(
            encodeFrame({
              type: 'resumed',
              since: params.since,
              seq: replay.head.seq,
              complete: replay.complete,
            }),
          ),
        );
      }
      hub.flush(conn, covered);
      log.info(
        { connId: info.connId, userId: info.userId, teamId: info.teamId, ip: info.ip },
        'socket open',
      );
    } catch (err) {
      log.error({ err, connId: info.connId }, 'socket setup failed');
      socket.close(CloseCode.internal, 'backend unavailable');
    }
  }

  async function handle(data: RawData, isBinary: boolean): Promise<void> {
    if (socket.readyState !== socket.OPEN) return;
    let ref: string | undefined;
    try {
      if (isBinary) throw new AppError('bad_request', 'binary frames are not supported; send text');
      const frame = parseClientFrame(toText(data));
      switch (frame.type) {
        case 'team':
        case 'direct': {
          ref = frame.ref;
          const ack = await deps.messaging.send({
            teamId: info.teamId,
            from: user,
            ...(frame.type === 'direct' ? { to: frame.to } : {}),
            data: frame.data,
            origin: info.connId,
            source: 'socket',
            ...(ref === undefined ? {} : { ref }),
          });
          hub.send(conn, textFrame(encodeAck(ref, ack.id, ack.seq)));
          return;
        }
        case 'presence':
          reply({
            type: 'members',
            teamId: info.teamId,
            members: await presence.members(info.teamId),
          });
          return;
        case 'history': {
          const page = await history.before(info.teamId, {
            limit: frame.limit,
            viewer: info.userId,
            ...(frame.before === undefined ? {} : { before: frame.before }),
          });
          reply({
            type: 'history',
            teamId: info.teamId,
            messages: page.messages.map(messageView),
            more: page.more,
          });
          return;
        }
        case 'ping':
          reply({ type: 'pong' });
          return;
      }
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'internal') log.error({ err, connId: info.connId }, 'frame failed');
      reject(error.code, error.message, ref);
    }
  }

  function reject(code: ErrorCode, message: string, ref?: string): void {
    const wire = socketCode(code);
    metrics.framesRejected.inc({ code: wire });
    reply({ type: 'error', code: wire, message, ...(ref === undefined ? {} : { ref }) });
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
  // Frames are handled one at a time, in arrival order, after the welcome: a user's
  // messages get seqs in the order they were sent.
  let queue: Promise<void> = ready;

  socket.on('pong', () => {
    conn.alive = true;
  });
  socket.on('message', (data, isBinary) => {
    conn.alive = true;
    if (!bucket.take()) {
      if (++dropped >= ABUSE_THRESHOLD) socket.close(CloseCode.policy, 'rate limit abuse');
      else reject('rate_limited', 'rate limit exceeded; message dropped');
      return;
    }
    dropped = 0;
    queue = queue.then(() => handle(data, isBinary));
  });
  socket.on('close', (code) => {
    void ready.then(() => cleanup(code));
  });
}

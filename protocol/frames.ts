/**
 * The frames of the wire protocol (docs/PROTOCOL.md §2 and §4), as both the server
 * and the client library (client/) type them. Types only: the client imports them
 * with `import type`, so its compiled module stays one file a browser loads with a
 * single request.
 */
import type { SocketErrorCode } from './errors.js';

export interface UserRef {
  id: string;
  name: string;
}

/** A delivered message; `data` is whatever the sender put in (`T` when you type the client). */
export interface Message<T = unknown> {
  id: string;
  seq: number;
  teamId: string;
  from: UserRef;
  /** Only on direct messages: the recipient's user id. */
  to?: string;
  data: T;
  /** Milliseconds since the Unix epoch, set by the server when it stored the message. */
  ts: number;
}

export interface Welcome {
  connId: string;
  user: UserRef;
  teamId: string;
  /** The team's latest seq when this connection opened. */
  seq: number;
  epoch: string;
  heartbeatMs: number;
}

/** The server accepted and stored a message. */
export interface Ack {
  ref: string;
  id: string;
  seq: number;
}

export interface PresenceEvent {
  event: 'join' | 'leave';
  teamId: string;
  user: UserRef;
}

export interface Member {
  id: string;
  name: string;
  connections: number;
}

export interface HistoryPage<T = unknown> {
  /** Oldest first. */
  messages: Message<T>[];
  /** True when older messages exist before the first one. */
  more: boolean;
}

/** End of the replay after a reconnect, or after a `subscribe` with `since`. */
export interface Resumed {
  /** The team replayed: the home team after a reconnect, or the subscribed one. */
  teamId: string;
  since: number;
  seq: number;
  /**
   * False when some messages after `since` are gone (retention) or the team's
   * history was reset (new epoch): reload history to be sure nothing is missing.
   */
  complete: boolean;
}

/**
 * The team's history was reset (its backend lost it, or it expired): later
 * messages belong to `epoch`, and seqs go on after `seq` (usually 0). Messages
 * from before may be missing: reload history if they matter.
 */
export interface EpochChange {
  teamId: string;
  epoch: string;
  seq: number;
}

/** Reply to `subscribe`: the team's head when the subscription started. */
export interface Subscribed {
  teamId: string;
  seq: number;
  epoch: string;
}

/** Frames from the server. */
export type ServerFrame<T = unknown> =
  | ({ type: 'welcome' } & Welcome)
  | ({ type: 'message' } & Message<T>)
  | { type: 'ack'; ref?: string; id: string; seq: number }
  | { type: 'error'; code: SocketErrorCode; message: string; ref?: string }
  | ({ type: 'presence' } & PresenceEvent)
  | { type: 'members'; teamId: string; members: Member[] }
  | { type: 'history'; teamId: string; messages: Message<T>[]; more: boolean }
  | ({ type: 'resumed' } & Resumed)
  | ({ type: 'epoch' } & EpochChange)
  | ({ type: 'subscribed' } & Subscribed)
  | { type: 'unsubscribed'; teamId: string }
  | { type: 'pong' };

/**
 * Frames a client sends as JSON. Any other text is a team message carrying that
 * text (docs/PROTOCOL.md §4). `teamId` picks a subscribed team (§7); without it,
 * the home team.
 */
export type ClientFrame<T = unknown> =
  | { type: 'team'; data: T; ref?: string; teamId?: string }
  | { type: 'direct'; to: string; data: T; ref?: string; teamId?: string }
  | { type: 'presence'; teamId?: string }
  | { type: 'history'; before?: number; limit?: number; teamId?: string }
  | { type: 'subscribe'; teamId: string; since?: number; epoch?: string }
  | { type: 'unsubscribe'; teamId: string }
  | { type: 'ping' };

/**
 * The wire protocol as the client sees it (docs/PROTOCOL.md §2-§7). Types only: this file
 * has no runtime code, so the compiled client stays one ES module that a browser
 * loads with a single request.
 */

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

/** End of the replay after a reconnect. */
export interface Resumed {
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

/** Codes of the server's `error` frames (docs/PROTOCOL.md §3). */
export type ServerErrorCode =
  'bad_request' | 'rate_limited' | 'unavailable' | 'indeterminate' | 'forbidden' | 'internal';

/** Frames from the server. */
export type ServerFrame<T = unknown> =
  | ({ type: 'welcome' } & Welcome)
  | ({ type: 'message' } & Message<T>)
  | { type: 'ack'; ref?: string; id: string; seq: number }
  | { type: 'error'; code: string; message: string; ref?: string }
  | ({ type: 'presence' } & PresenceEvent)
  | { type: 'members'; teamId: string; members: Member[] }
  | { type: 'history'; teamId: string; messages: Message<T>[]; more: boolean }
  | ({ type: 'resumed' } & Resumed)
  | ({ type: 'epoch' } & EpochChange)
  | { type: 'pong' };

/** Frames the client sends. */
export type ClientFrame<T = unknown> =
  | { type: 'team'; data: T; ref: string }
  | { type: 'direct'; to: string; data: T; ref: string }
  | { type: 'presence' }
  | { type: 'history'; before?: number; limit?: number }
  | { type: 'ping' };

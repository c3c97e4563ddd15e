/** Domain shapes shared by every service. Wire names match docs/PROTOCOL.md exactly. */
import { randomUUID } from 'node:crypto';
import type { UserRef } from '../protocol/frames';

export type { Member, UserRef } from '../protocol/frames';

/** What a publisher hands in; the engine adds id, seq and ts. */
export interface MessageDraft {
  teamId: string;
  from: UserRef;
  /** Recipient user id for a direct message; absent for a team message. */
  to?: string;
  data: unknown;
  /** connId of the sending socket, so it is skipped on delivery; never sent to clients. */
  origin?: string;
}

/** An accepted, stored message. */
export interface Message extends MessageDraft {
  id: string;
  seq: number;
  ts: number;
}

/**
 * The message a draft becomes once accepted: a fresh id, the time now, and only the
 * fields a client may see copied (the sender's ref is narrowed to id and name).
 */
export function stampMessage(draft: MessageDraft, seq: number): Message {
  return {
    id: randomUUID(),
    seq,
    teamId: draft.teamId,
    from: { id: draft.from.id, name: draft.from.name },
    ...(draft.to === undefined ? {} : { to: draft.to }),
    data: draft.data,
    ts: Date.now(),
    ...(draft.origin === undefined ? {} : { origin: draft.origin }),
  };
}

export interface Ack {
  id: string;
  seq: number;
}

export interface TeamHead {
  /** Latest seq assigned in the team, 0 when none. */
  seq: number;
  /** Changes whenever the team's history was lost, so a client's `since` is meaningless. */
  epoch: string;
}

export interface ConnectionInfo {
  connId: string;
  userId: string;
  name: string;
  teamId: string;
  node: string;
  ip: string;
  /** ISO-8601 */
  connectedAt: string;
  /**
   * Only on the presence entry of a subscription (docs/PROTOCOL.md §7): the
   * connection and home team it belongs to. Such an entry's `connId` is
   * `<connection's connId>@<teamId>`, so every team a connection follows is an
   * entry of its own and presence counts it like a connection.
   */
  home?: { connId: string; teamId: string };
}

export interface TeamPresence {
  teamId: string;
  /** Distinct users online. */
  online: number;
  connections: number;
}

export interface Team {
  id: string;
  name: string;
  /** ISO-8601 */
  createdAt: string;
}

/** A message is visible to a viewer when it is a team message, or a direct one they sent or receive. */
export function visibleTo(message: MessageDraft, userId: string | undefined): boolean {
  return (
    userId === undefined ||
    message.to === undefined ||
    message.to === userId ||
    message.from.id === userId
  );
}

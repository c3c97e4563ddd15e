import { AppError } from './errors';
import type { ConnectionInfo, Member, TeamPresence } from './types';

export interface ConnectionQuery {
  teamId?: string;
  userId?: string;
  limit: number;
  /** Opaque: the `next` of the previous page. */
  cursor?: string;
}

export interface ConnectionPage {
  connections: ConnectionInfo[];
  next: string | null;
}

/** Who is connected, cluster-wide. Join/leave are user-level: first and last connection. */
export interface Presence {
  /**
   * `first` is true when this is the user's only connection in the team. With
   * `announceJoin`, an engine that can publish the join in the same step as the entry
   * does so when `first`, and says `announced`; else the caller announces it.
   */
  add(
    conn: ConnectionInfo,
    announceJoin?: boolean,
  ): Promise<{ first: boolean; announced?: boolean }>;
  /** `last` is true when the user has no connection left in the team. */
  remove(conn: ConnectionInfo): Promise<{ last: boolean }>;
  get(connId: string): Promise<ConnectionInfo | undefined>;
  members(teamId: string): Promise<Member[]>;
  teams(): Promise<TeamPresence[]>;
  /** How many teams have a connection: cheap, unlike teams(), for the live charts. */
  teamCount(): Promise<number>;
  list(query: ConnectionQuery): Promise<ConnectionPage>;
  close(): Promise<void>;
}

/** Listing cursors are opaque to callers: the last connId of the page, base64url. */
export function encodeCursor(connId: string): string {
  return Buffer.from(connId, 'utf8').toString('base64url');
}

/**
 * A connId as the server makes them (a UUID) or, from older nodes, any id-like
 * string; or a subscription's entry id, `<connId>@<teamId>`.
 */
const CONN_ID = /^[A-Za-z0-9_.:@-]{1,130}$/;

/** The presence entry id of a connection's subscription to a team. */
export function subscriptionEntryId(connId: string, teamId: string): string {
  return `${connId}@${teamId}`;
}

/**
 * The connId a cursor carries; `bad_request` for anything the server could not have
 * made (Buffer.from drops what is not base64url, so the text must round-trip).
 */
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const connId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!CONN_ID.test(connId) || encodeCursor(connId) !== cursor)
    throw new AppError(
      'bad_request',
      'cursor: malformed; pass back the `next` of the previous page',
    );
  return connId;
}

import type { Message, TeamHead } from './types';

export interface HistoryPage {
  messages: Message[];
  /** True when older messages visible to the viewer exist before the first one returned. */
  more: boolean;
  /**
   * 'down' when the archive could not be read: the page holds only what the engine
   * retains, and `more` speaks only for that.
   */
  archive?: 'down';
}

/**
 * Most stored messages one replay page reads (hidden ones included): a resume holds
 * at most this many in memory at once, whatever the team's history holds.
 */
export const REPLAY_PAGE_SIZE = 200;

export interface ReplayRequest {
  since: number;
  /** The epoch the client saw; when it differs from the team's, nothing is replayed. */
  epoch?: string;
  /** Only messages this user may see; undefined means every message (admin). */
  viewer?: string;
  /**
   * Last seq the replay covers: the head read when it started, so every page of one
   * replay ends at the same place. Undefined: the head read by this call.
   */
  until?: number;
  /** Most stored messages this page reads; capped at REPLAY_PAGE_SIZE, its default. */
  limit?: number;
}

/** One page of a replay: the next page asks for `since: through`. */
export interface Replay {
  /** Messages of this page the viewer may see, oldest first. */
  messages: Message[];
  /**
   * False when some messages in (since, through] are no longer retained anywhere or
   * the epoch changed.
   */
  complete: boolean;
  head: TeamHead;
  /** The last seq this page accounts for (read, hidden, or no longer retained). */
  through: number;
  /** True when (through, until] may still hold messages. */
  more: boolean;
  /** Stored messages this page read, the hidden ones included: what a replay's cap counts. */
  read: number;
}

/**
 * Read side of a team's retained messages. Writing happens through `Bus.publish`,
 * which assigns seq and retains atomically.
 */
export interface History {
  head(teamId: string): Promise<TeamHead>;
  /** One page of the retained messages with since < seq <= until, oldest first. */
  replay(teamId: string, request: ReplayRequest): Promise<Replay>;
  /**
   * The lowest seq still held here (head + 1 when none is): anything older must
   * come from the archive.
   */
  retainedFrom(teamId: string): Promise<number>;
  /** Up to `limit` messages with seq < before (newest page first), returned oldest first. */
  before(
    teamId: string,
    query: { before?: number; limit: number; viewer?: string },
  ): Promise<HistoryPage>;
}

/** The page size a request may read: never more than REPLAY_PAGE_SIZE, never less than 1. */
export function pageLimit(request: ReplayRequest): number {
  return Math.max(1, Math.min(request.limit ?? REPLAY_PAGE_SIZE, REPLAY_PAGE_SIZE));
}

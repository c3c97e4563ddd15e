import type { Message, TeamHead } from './types';

export interface HistoryPage {
  messages: Message[];
  /** True when older messages visible to the viewer exist before the first one returned. */
  more: boolean;
}

export interface ReplayRequest {
  since: number;
  /** The epoch the client saw; when it differs from the team's, nothing is replayed. */
  epoch?: string;
  /** Only messages this user may see; undefined means every message (admin). */
  viewer?: string;
}

export interface Replay {
  messages: Message[];
  /** False when some messages after `since` are no longer retained or the epoch changed. */
  complete: boolean;
  head: TeamHead;
}

/**
 * Read side of a team's retained messages. Writing happens through `Bus.publish`,
 * which assigns seq and retains atomically.
 */
export interface History {
  head(teamId: string): Promise<TeamHead>;
  /** Retained messages with seq > since, oldest first. */
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

import type { Replay } from './history';
import { visibleTo, type Message, type TeamHead } from './types';

export interface StoredRange {
  since: number;
  /** Last seq the replay covers. */
  end: number;
  /** Lowest seq still stored (end + 1 or more when none is). */
  firstSeq: number;
  /** What was read: stored messages from max(since + 1, firstSeq), oldest first, at most `limit`. */
  read: Message[];
  limit: number;
  viewer: string | undefined;
  head: TeamHead;
}

/**
 * The page an engine answers after reading one slice of its stored messages. It is
 * complete when nothing between since and the first stored seq was lost; a short
 * read means the range was read to its end.
 */
export function replayPage(range: StoredRange): Replay {
  const { since, end, firstSeq, read, limit, viewer, head } = range;
  const last = read[read.length - 1];
  const more = last !== undefined && read.length >= limit && last.seq < end;
  return {
    messages: read.filter((m) => visibleTo(m, viewer)),
    complete: since >= end || since + 1 >= firstSeq,
    head,
    through: more ? last.seq : Math.max(since, end),
    more,
    read: read.length,
  };
}

/** A page that replays nothing: the epoch changed, or since is past the head. */
export function lostReplay(since: number, head: TeamHead): Replay {
  return { messages: [], complete: false, head, through: since, more: false, read: 0 };
}

import WebSocket from 'ws';
import { encodeMessageFrame } from '../frames';
import { REPLAY_PAGE_SIZE, type History } from '../history';
import type { Hub, LocalConnection } from './hub';
import type { TeamHead } from '../types';
import { textFrame } from './ws-frame';

export interface ResumeRequest {
  teamId: string;
  viewer: string;
  since: number;
  /** The epoch the client resumes in; undefined: the head's. */
  epoch: string | undefined;
  /** Read once, before the replay: it covers exactly (since, head.seq]. */
  head: TeamHead;
  /** Stored messages read (hidden ones included) after which the replay stops, incomplete. */
  maxMessages: number;
}

export interface ResumeOutcome {
  complete: boolean;
  /** False when the socket closed during the replay: nothing more should be written. */
  open: boolean;
}

function isOpen(conn: LocalConnection): boolean {
  return conn.socket.readyState === WebSocket.OPEN;
}

/**
 * Resolves once the TCP socket takes writes again (below its high-water mark),
 * false when it closed first. The hub writes past ws straight to the socket, so
 * this is where a replay feels the client's pace.
 */
function drained(conn: LocalConnection): Promise<boolean> {
  const raw = conn.raw;
  if (!raw.writableNeedDrain) return Promise.resolve(isOpen(conn));
  return new Promise((resolve) => {
    const done = (): void => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve(isOpen(conn));
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
}

/**
 * Replays what a resuming connection missed, a page at a time: each page is read
 * only once the socket has taken the one before, so a replay holds one page (plus
 * the socket's high-water mark) whatever the team's history or the client's speed.
 * Live messages wait in the connection's pending queue meanwhile (bounded by the hub).
 */
export async function resumeReplay(
  history: History,
  hub: Hub,
  conn: LocalConnection,
  request: ResumeRequest,
): Promise<ResumeOutcome> {
  const { teamId, viewer, head, maxMessages } = request;
  const epoch = request.epoch ?? head.epoch;
  let since = request.since;
  let complete = true;
  let read = 0;
  for (;;) {
    const limit = Math.min(REPLAY_PAGE_SIZE, maxMessages - read);
    const page = await history.replay(teamId, { since, epoch, viewer, until: head.seq, limit });
    if (!isOpen(conn)) return { complete: false, open: false };
    complete &&= page.complete;
    for (const message of page.messages) {
      hub.write(conn, textFrame(encodeMessageFrame(message)));
      if (!(await drained(conn))) return { complete: false, open: false };
    }
    read += page.read;
    since = page.through;
    if (!page.more) return { complete, open: true };
    // The cap leaves messages after `since` unsent: the client must reload history.
    if (read >= maxMessages) return { complete: false, open: true };
  }
}

import type { Logger } from 'pino';
import type { ArchiveReader } from './archive';
import {
  pageLimit,
  type History,
  type HistoryPage,
  type Replay,
  type ReplayRequest,
} from './history';
import { lostReplay } from './replay-page';
import { visibleTo, type Message, type TeamHead } from './types';

function mergeBySeq(older: Message[], newer: Message[]): Message[] {
  const seen = new Set(newer.map((m) => m.seq));
  return [...older.filter((m) => !seen.has(m.seq)), ...newer].sort((a, b) => a.seq - b.seq);
}

/**
 * History that reaches past what the engine retains: older messages come from the
 * archive, so a resume is complete whenever the archive holds the missing range.
 * When the archive cannot be read, answers fall back to what the engine holds.
 */
export class ArchivedHistory implements History {
  constructor(
    private readonly inner: History,
    private readonly archive: ArchiveReader,
    private readonly log: Logger,
  ) {}

  head(teamId: string): Promise<TeamHead> {
    return this.inner.head(teamId);
  }

  retainedFrom(teamId: string): Promise<number> {
    return this.inner.retainedFrom(teamId);
  }

  /**
   * A page from the archive while since is older than what the engine retains, then
   * the engine's own pages. Each page asks the engine where its retention starts, so
   * a trim between pages only moves the switch.
   */
  async replay(teamId: string, request: ReplayRequest): Promise<Replay> {
    const { since, viewer } = request;
    const from = await this.inner.retainedFrom(teamId);
    if (since + 1 >= from) return this.inner.replay(teamId, request);
    const head = await this.inner.head(teamId);
    if ((request.epoch !== undefined && request.epoch !== head.epoch) || since > head.seq) {
      return lostReplay(since, head);
    }
    const end = Math.min(request.until ?? head.seq, head.seq);
    if (since >= end) return this.inner.replay(teamId, request);
    let rows: Message[];
    try {
      rows = await this.archive.between(
        teamId,
        head.epoch,
        since,
        Math.min(from, end + 1),
        pageLimit(request),
      );
    } catch (err) {
      this.log.warn({ err, teamId }, 'archive unreadable; replay limited to retained history');
      return this.inner.replay(teamId, request);
    }
    // Nothing archived in the gap: the engine's page says what is lost from it.
    if (rows.length === 0) return this.inner.replay(teamId, request);
    const through = rows[rows.length - 1]!.seq;
    return {
      messages: rows.filter((m) => visibleTo(m, viewer)),
      // Complete only if the archive holds every seq of the page (hidden ones included).
      complete: rows.every((m, i) => m.seq === since + 1 + i),
      head,
      through,
      more: through < end,
      read: rows.length,
    };
  }

  async before(
    teamId: string,
    query: { before?: number; limit: number; viewer?: string },
  ): Promise<HistoryPage> {
    const page = await this.inner.before(teamId, query);
    if (page.more) return page;
    try {
      const from = await this.inner.retainedFrom(teamId);
      const below = Math.min(
        from,
        query.before ?? Number.MAX_SAFE_INTEGER,
        page.messages[0]?.seq ?? Infinity,
      );
      const { epoch } = await this.inner.head(teamId);
      const wanted = query.limit - page.messages.length;
      const older: Message[] = [];
      let cursor = below;
      // Pages through the archive until enough visible messages (plus one, for `more`) are found.
      for (;;) {
        const rows = await this.archive.before(teamId, epoch, cursor, wanted + 1);
        for (const m of rows) if (visibleTo(m, query.viewer)) older.push(m);
        if (older.length > wanted || rows.length < wanted + 1) break;
        cursor = rows[rows.length - 1]!.seq;
      }
      const more = older.length > wanted;
      return { messages: mergeBySeq(older.slice(0, wanted).reverse(), page.messages), more };
    } catch (err) {
      this.log.warn({ err, teamId }, 'archive unreadable; history limited to retained messages');
      return { ...page, archive: 'down' };
    }
  }
}

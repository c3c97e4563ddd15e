import type { Logger } from 'pino';
import type { ArchiveReader } from './archive';
import type { History, HistoryPage, Replay, ReplayRequest } from './history';
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

  async replay(teamId: string, request: ReplayRequest): Promise<Replay> {
    const replay = await this.inner.replay(teamId, request);
    const { since, epoch, viewer } = request;
    const head = replay.head;
    if (replay.complete || (epoch !== undefined && epoch !== head.epoch) || since > head.seq)
      return replay;
    try {
      const from = await this.inner.retainedFrom(teamId);
      const older = await this.archive.between(teamId, head.epoch, since, from, from - since - 1);
      // Complete only if the archive holds every seq in the gap (hidden ones included).
      const complete = older.length === from - since - 1;
      const visible = older.filter((m) => visibleTo(m, viewer));
      return { messages: mergeBySeq(visible, replay.messages), complete, head };
    } catch (err) {
      this.log.warn({ err, teamId }, 'archive unreadable; replay limited to retained history');
      return replay;
    }
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
      return page;
    }
  }
}

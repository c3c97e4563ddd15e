import type { ArchivedMessage, ArchiveReader, ArchiveWriter } from '../../services/archive';
import { archiveError } from '../../services/sql/errors';

/** An archive in an array, for tests of what sits around the SQL one. */
export class MemoryArchive implements ArchiveWriter, ArchiveReader {
  readonly rows = new Map<string, ArchivedMessage>();
  /** Set to make every write fail, like a database that is down. */
  failing: Error | undefined;
  /**
   * Set to refuse rows, as SQL Server refuses a statement: a batch holding a row
   * this returns an error for fails whole with that error (classified as SqlArchive
   * classifies it), and nothing is written.
   */
  refuse: ((message: ArchivedMessage) => unknown) | undefined;
  writes: ArchivedMessage[][] = [];
  /** Every write attempted, refused ones included. */
  attempts: ArchivedMessage[][] = [];

  async write(batch: ArchivedMessage[]): Promise<void> {
    this.attempts.push(batch);
    if (this.failing) throw this.failing;
    for (const m of batch) {
      const err = this.refuse?.(m);
      if (err !== undefined) throw archiveError(err);
    }
    this.writes.push(batch);
    for (const m of batch) if (!this.rows.has(m.id)) this.rows.set(m.id, m);
  }

  private of(teamId: string, epoch: string): ArchivedMessage[] {
    return [...this.rows.values()]
      .filter((m) => m.teamId === teamId && m.epoch === epoch)
      .sort((a, b) => a.seq - b.seq);
  }

  // Typed by the port rather than spelled out again: the signatures are ArchiveReader's.
  before: ArchiveReader['before'] = async (teamId, epoch, before, limit) => {
    if (this.failing) throw this.failing;
    return this.of(teamId, epoch)
      .filter((m) => m.seq < before)
      .reverse()
      .slice(0, limit);
  };

  between: ArchiveReader['between'] = async (teamId, epoch, after, until, limit) => {
    if (this.failing) throw this.failing;
    return this.of(teamId, epoch)
      .filter((m) => m.seq > after && m.seq < until)
      .slice(0, limit);
  };
}

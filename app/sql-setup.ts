import type { Logger } from 'pino';
import type { Backlog } from '../services/archive';
import { ArchivedHistory } from '../services/archived-history';
import { Archiver } from '../services/archiver';
import type { DeadLetterCounts, DeadLetters } from '../services/dead-letters';
import type { CheckState } from '../services/health';
import type { History } from '../services/history';
import { SqlArchive } from '../services/sql/archive';
import { parseSqlUrl, SqlConnection } from '../services/sql/connection';
import { SqlStore } from '../services/sql/store';
import type { Config, SqlConfig } from './config';

/** What the SQL Server store adds to an engine: teams, the archive, and its writer. */
export interface SqlParts {
  store: SqlStore;
  /** Wraps the engine's history so reads reach past its retention. */
  history(inner: History): History;
  /** Starts moving the backlog into SQL; rows SQL Server refuses go to `deadLetters`. */
  startArchiver(backlog: Backlog, deadLetters: DeadLetters): void;
  /** Rows this node dead-lettered, and dead letters dropped past the cap, since start. */
  deadLetterCounts(): DeadLetterCounts;
  backlogLength(): Promise<number>;
  check(): Promise<CheckState>;
  /** Stops the archiver; the pool closes last, in `closePool`. */
  stop(): Promise<void>;
  closePool(): Promise<void>;
}

export async function createSqlParts(
  config: { sql: SqlConfig } & Pick<Config, 'archive'>,
  log: Logger,
): Promise<SqlParts> {
  const db = new SqlConnection(parseSqlUrl(config.sql), log);
  const store = new SqlStore(db, log);
  const archive = new SqlArchive(db);
  let archiver: Archiver | undefined;
  let backlog: Backlog | undefined;
  const counts: DeadLetterCounts = { added: 0, dropped: 0 };
  db.onConnect(() => void store.flush());
  // First attempt now; on failure the node starts anyway and keeps retrying.
  await db.start();
  return {
    store,
    history: (inner) => new ArchivedHistory(inner, archive, log),
    startArchiver: (b, deadLetters) => {
      backlog = b;
      archiver = new Archiver(b, archive, {
        batchSize: config.archive.batchSize,
        flushMs: config.archive.flushMs,
        log,
        deadLetters,
        onDeadLetters: (added, dropped) => {
          counts.added += added;
          counts.dropped += dropped;
        },
      });
      archiver.start();
    },
    deadLetterCounts: () => ({ ...counts }),
    backlogLength: () => backlog?.length() ?? Promise.resolve(0),
    check: async () =>
      db.connected && (archiver?.healthy ?? true) && (await db.ping()) ? 'up' : 'down',
    stop: async () => {
      await archiver?.close();
    },
    closePool: () => db.close(),
  };
}

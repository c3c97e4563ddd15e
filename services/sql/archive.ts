import sql from 'mssql';
import type { ArchivedMessage, ArchiveReader, ArchiveWriter } from '../archive';
import { isConnectionError, type SqlConnection } from './connection';
import { archiveError } from './errors';
import { insertMessages, MAX_ARCHIVE_ROWS, SQL, WIDTH } from './statements';
import type { Message } from '../types';

interface MessageRow {
  id: string;
  team_id: string;
  seq: string | number;
  sender_id: string;
  sender_name: string;
  recipient_id: string | null;
  data: string;
  ts: string | number;
}

function fromRow(row: MessageRow): Message {
  return {
    id: row.id,
    seq: Number(row.seq),
    teamId: row.team_id,
    from: { id: row.sender_id, name: row.sender_name },
    ...(row.recipient_id === null ? {} : { to: row.recipient_id }),
    data: JSON.parse(row.data) as unknown,
    ts: Number(row.ts),
  };
}

/** The message archive in SQL Server. */
export class SqlArchive implements ArchiveWriter, ArchiveReader {
  constructor(private readonly db: SqlConnection) {}

  async write(batch: ArchivedMessage[]): Promise<void> {
    for (let start = 0; start < batch.length; start += MAX_ARCHIVE_ROWS) {
      const rows = batch.slice(start, start + MAX_ARCHIVE_ROWS);
      const request = this.db.request();
      rows.forEach((m, i) => {
        request
          .input(`id${i}`, sql.Char(WIDTH.messageId), m.id)
          .input(`team${i}`, sql.NVarChar(WIDTH.id), m.teamId)
          .input(`epoch${i}`, sql.VarChar(WIDTH.epoch), m.epoch)
          .input(`seq${i}`, sql.BigInt, m.seq)
          .input(`sid${i}`, sql.NVarChar(WIDTH.id), m.from.id)
          .input(`sname${i}`, sql.NVarChar(WIDTH.name), m.from.name)
          .input(`rid${i}`, sql.NVarChar(WIDTH.id), m.to ?? null)
          .input(`data${i}`, sql.NVarChar(sql.MAX), JSON.stringify(m.data ?? null))
          .input(`ts${i}`, sql.BigInt, m.ts);
      });
      try {
        await this.run(() => request.query(insertMessages(rows.length)));
      } catch (err) {
        throw archiveError(err);
      }
    }
  }

  async before(teamId: string, epoch: string, before: number, limit: number): Promise<Message[]> {
    return this.page(SQL.messagesBefore, teamId, epoch, limit, { before });
  }

  async between(
    teamId: string,
    epoch: string,
    after: number,
    until: number,
    limit: number,
  ): Promise<Message[]> {
    return this.page(SQL.messagesBetween, teamId, epoch, limit, { after, until });
  }

  /** One page of a team's epoch; `bounds` are the statement's seq parameters. */
  private async page(
    statement: string,
    teamId: string,
    epoch: string,
    limit: number,
    bounds: Record<string, number>,
  ): Promise<Message[]> {
    const result = await this.run(() => {
      const request = this.db
        .request()
        .input('limit', sql.Int, limit)
        .input('teamId', sql.NVarChar(WIDTH.id), teamId)
        .input('epoch', sql.VarChar(WIDTH.epoch), epoch);
      for (const [name, seq] of Object.entries(bounds)) request.input(name, sql.BigInt, seq);
      return request.query<MessageRow>(statement);
    });
    return result.recordset.map(fromRow);
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (err) {
      if (isConnectionError(err)) this.db.down(err);
      throw err;
    }
  }
}

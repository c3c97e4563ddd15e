import sql from 'mssql';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { isConnectionError, type SqlConnection } from './connection';
import { SQL, WIDTH } from './statements';
import type { Store } from '../store';
import type { Team } from '../types';

interface TeamRow {
  id: string;
  name: string;
  created_at: Date;
}

const toTeam = (row: TeamRow): Team => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at.toISOString(),
});

/**
 * Teams in SQL Server. A team first seen on a socket is recorded too, but a socket
 * never waits on SQL for it: while the database is down the id waits in memory and
 * is written once it is back, so live traffic does not depend on SQL Server.
 */
export class SqlStore implements Store {
  private readonly recorded = new Set<string>();
  private readonly pending = new Set<string>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: SqlConnection,
    private readonly log: Logger,
  ) {}

  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isConnectionError(err)) {
        this.db.down(err);
        throw new AppError('unavailable', 'database unavailable; retry', { cause: err });
      }
      throw err;
    }
  }

  async createTeam(team: { id: string; name: string }): Promise<Team> {
    const createdAt = new Date();
    try {
      await this.run(() =>
        this.db
          .request()
          .input('id', sql.NVarChar(WIDTH.id), team.id)
          .input('name', sql.NVarChar(WIDTH.name), team.name)
          .input('createdAt', sql.DateTime2(3), createdAt)
          .query(SQL.insertTeam),
      );
    } catch (err) {
      const number = (err as { number?: unknown }).number;
      if (number === 2627 || number === 2601)
        throw new AppError('conflict', `team ${team.id} already exists`);
      throw err;
    }
    this.recorded.add(team.id);
    return { id: team.id, name: team.name, createdAt: createdAt.toISOString() };
  }

  async ensureTeam(id: string): Promise<Team> {
    if (!this.recorded.has(id)) {
      this.pending.add(id);
      await this.flush();
    }
    return (
      (await this.getTeam(id).catch(() => undefined)) ?? {
        id,
        name: id,
        createdAt: new Date().toISOString(),
      }
    );
  }

  /**
   * Writes the teams waiting to be recorded; a no-op while the database is down
   * (they wait until it is back). Runs one at a time, so callers see each other's writes.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    if (!this.db.connected) return;
    try {
      for (const id of [...this.pending]) {
        await this.run(() =>
          this.db
            .request()
            .input('id', sql.NVarChar(WIDTH.id), id)
            .input('name', sql.NVarChar(WIDTH.name), id)
            .input('createdAt', sql.DateTime2(3), new Date())
            .query(SQL.ensureTeam),
        );
        this.pending.delete(id);
        this.recorded.add(id);
      }
    } catch (err) {
      this.log.debug({ err }, 'recording teams deferred');
    }
  }

  async getTeam(id: string): Promise<Team | undefined> {
    const result = await this.run(() =>
      this.db.request().input('id', sql.NVarChar(WIDTH.id), id).query<TeamRow>(SQL.getTeam),
    );
    const row = result.recordset[0];
    return row ? toTeam(row) : undefined;
  }

  async renameTeam(id: string, name: string): Promise<Team | undefined> {
    const result = await this.run(() =>
      this.db
        .request()
        .input('id', sql.NVarChar(WIDTH.id), id)
        .input('name', sql.NVarChar(WIDTH.name), name)
        .query<TeamRow>(SQL.renameTeam),
    );
    const row = result.recordset[0];
    return row ? toTeam(row) : undefined;
  }

  async listTeams(): Promise<Team[]> {
    const result = await this.run(() => this.db.request().query<TeamRow>(SQL.listTeams));
    return result.recordset.map(toTeam);
  }

  async close(): Promise<void> {}
}

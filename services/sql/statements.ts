import { MAX_ID_LENGTH, MAX_NAME_CODE_POINTS } from '../../protocol/limits';

/**
 * Every SQL statement the store issues, in one place, so a test can parse each one
 * as T-SQL. Values always travel as typed parameters (`@name`), never in the text.
 */

/**
 * Widths of the string columns and of the parameters bound to them, in what
 * NVARCHAR(n) counts: UTF-16 units. Validation counts names in code points, and a
 * code point outside the BMP (an emoji) is two units, so a name that passes needs
 * up to twice its limit; ids are ASCII, one unit a char. A value that passes
 * validation always fits, so no row can fail on its length.
 */
export const WIDTH = {
  id: MAX_ID_LENGTH,
  name: 2 * MAX_NAME_CODE_POINTS,
  /** Message ids are UUIDs. */
  messageId: 36,
  /** Epochs are made by the engines (8 hex chars); a client's resume epoch is at most 64. */
  epoch: 64,
} as const;

/** Rows per archive INSERT: 9 parameters a row stays under SQL Server's 2,100 per request. */
export const MAX_ARCHIVE_ROWS = 200;

export const SQL = {
  schemaTableId: `SELECT OBJECT_ID(N'dbo.switchboard_schema', N'U') AS id`,
  createSchemaTable:
    'CREATE TABLE dbo.switchboard_schema (version INT NOT NULL PRIMARY KEY, applied_at DATETIME2(3) NOT NULL)',
  schemaVersion: 'SELECT MAX(version) AS version FROM dbo.switchboard_schema',
  recordVersion:
    'INSERT INTO dbo.switchboard_schema (version, applied_at) VALUES (@version, SYSUTCDATETIME())',
  ping: 'SELECT 1 AS ok',

  insertTeam: 'INSERT INTO dbo.teams (id, name, created_at) VALUES (@id, @name, @createdAt)',
  ensureTeam:
    'INSERT INTO dbo.teams (id, name, created_at) SELECT @id, @name, @createdAt WHERE NOT EXISTS (SELECT 1 FROM dbo.teams WHERE id = @id)',
  /**
   * One round trip: the UPDATE yields no result set, so the SELECT's is the first,
   * empty when no team has the id. (OUTPUT inserted.* would read the row in the same
   * statement, but node-sql-parser cannot check it; a rename racing this one between
   * the two only makes the answer carry the other, later name.)
   */
  renameTeam:
    'UPDATE dbo.teams SET name = @name WHERE id = @id; SELECT id, name, created_at FROM dbo.teams WHERE id = @id',
  getTeam: 'SELECT id, name, created_at FROM dbo.teams WHERE id = @id',
  listTeams: 'SELECT id, name, created_at FROM dbo.teams ORDER BY id',

  /** Newest first, below `before`; the caller reverses. Keyset pagination on the clustered key. */
  messagesBefore:
    'SELECT TOP (@limit) id, team_id, seq, sender_id, sender_name, recipient_id, data, ts FROM dbo.messages WHERE team_id = @teamId AND epoch = @epoch AND seq < @before ORDER BY seq DESC',
  /** Oldest first, after < seq < until, a page at a time: a resume never reads a whole archive. */
  messagesBetween:
    'SELECT TOP (@limit) id, team_id, seq, sender_id, sender_name, recipient_id, data, ts FROM dbo.messages WHERE team_id = @teamId AND epoch = @epoch AND seq > @after AND seq < @until ORDER BY seq ASC',
} as const;

/** Schema migrations, applied in order, each once; the version table records them. */
export const MIGRATIONS: { version: number; statements: string[] }[] = [
  {
    version: 1,
    statements: [
      'CREATE TABLE dbo.teams (id NVARCHAR(64) NOT NULL PRIMARY KEY, name NVARCHAR(100) NOT NULL, created_at DATETIME2(3) NOT NULL)',
      // Unique per (team, epoch, seq), clustered for keyset pagination: seqs restart
      // in a new epoch when the engine's history was lost, so seq alone is not unique.
      'CREATE TABLE dbo.messages (id CHAR(36) NOT NULL, team_id NVARCHAR(64) NOT NULL, epoch VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, sender_id NVARCHAR(64) NOT NULL, sender_name NVARCHAR(100) NOT NULL, recipient_id NVARCHAR(64) NULL, data NVARCHAR(MAX) NOT NULL, ts BIGINT NOT NULL, CONSTRAINT pk_messages PRIMARY KEY NONCLUSTERED (id), CONSTRAINT uq_messages_team_epoch_seq UNIQUE CLUSTERED (team_id, epoch, seq))',
    ],
  },
  {
    // Names are validated in code points, and 100 of them can be 200 UTF-16 units:
    // version 1 refused such names (and jammed the archive on them). Widening a
    // variable-length column outside any key only changes metadata; the clustered
    // (team_id, epoch, seq) key is untouched. Written out, not from WIDTH: an
    // applied migration never changes.
    version: 2,
    statements: [
      'ALTER TABLE dbo.teams ALTER COLUMN name NVARCHAR(200) NOT NULL',
      'ALTER TABLE dbo.messages ALTER COLUMN sender_name NVARCHAR(200) NOT NULL',
    ],
  },
];

/**
 * One INSERT for a batch, idempotent on message id: rows already stored are
 * skipped; UPDLOCK + HOLDLOCK keep two writers of the same batch from racing.
 */
export function insertMessages(rows: number): string {
  const values = Array.from(
    { length: rows },
    (_, i) =>
      `(@id${i}, @team${i}, @epoch${i}, @seq${i}, @sid${i}, @sname${i}, @rid${i}, @data${i}, @ts${i})`,
  ).join(', ');
  return (
    'INSERT INTO dbo.messages (id, team_id, epoch, seq, sender_id, sender_name, recipient_id, data, ts) ' +
    'SELECT v.id, v.team_id, v.epoch, v.seq, v.sender_id, v.sender_name, v.recipient_id, v.data, v.ts ' +
    `FROM (VALUES ${values}) AS v (id, team_id, epoch, seq, sender_id, sender_name, recipient_id, data, ts) ` +
    'WHERE NOT EXISTS (SELECT 1 FROM dbo.messages AS m WITH (UPDLOCK, HOLDLOCK) WHERE m.id = v.id)'
  );
}

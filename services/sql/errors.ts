import { RowsRefusedError } from '../archive';
import { isConnectionError } from './connection';

/**
 * SQL Server errors that are about one row's values: the same statement with
 * other rows works. Only these make a row poison (dead letters); see
 * https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors
 */
export const DATA_ERRORS: ReadonlyMap<number, string> = new Map([
  [8152, 'string or binary data would be truncated'],
  [2628, 'string or binary data would be truncated (column named)'],
  [245, 'conversion failed'],
  [241, 'date/time conversion failed'],
  [242, 'date/time value out of range'],
  [517, 'date value overflow'],
  [8114, 'error converting data type'],
  [8115, 'arithmetic overflow converting'],
  [220, 'arithmetic overflow for data type'],
  [232, 'arithmetic overflow for type'],
  [515, 'NULL into a NOT NULL column'],
  [547, 'CHECK or FOREIGN KEY constraint conflict'],
  // Duplicate (team_id, epoch, seq) with another id: writes skip ids already stored,
  // so only a different message under the same seq gets here.
  [2627, 'unique constraint violation'],
  [2601, 'duplicate key in a unique index'],
  // A parameter value the server cannot take as declared (too long, not a valid
  // instance of its type): the value, not the statement.
  [8016, 'parameter value has an invalid length'],
  [8023, 'parameter value is not a valid instance of its type'],
]);

/**
 * Errors that pass with time or with the server: keep the batch and retry. Listed
 * for readers and tests; anything not in DATA_ERRORS is treated the same way.
 */
export const TRANSIENT_ERRORS: ReadonlyMap<number, string> = new Map([
  [1205, 'deadlock victim'],
  [1222, 'lock request time out'],
  [1204, 'out of locks'],
  [701, 'out of memory'],
  [8645, 'timeout waiting for memory'],
  [8628, 'timeout waiting for a resource'],
  [9002, 'transaction log full'],
  [1105, 'filegroup full'],
  [3960, 'snapshot isolation update conflict'],
  [4060, 'cannot open database'],
  [18456, 'login failed'],
  [40501, 'service busy (Azure)'],
  [40613, 'database unavailable (Azure)'],
  [40197, 'service error processing the request (Azure)'],
  [49918, 'not enough resources (Azure)'],
  [10928, 'resource limit reached (Azure)'],
  [10929, 'minimum resources not available (Azure)'],
]);

/**
 * Errors about the statement or the schema (missing table 208, column 207,
 * permission 229/230, syntax 102, …): every row would fail the same way, so they
 * are outages too, never a reason to dead-letter rows.
 */
export const STATEMENT_ERRORS: ReadonlyMap<number, string> = new Map([
  [208, 'invalid object name'],
  [207, 'invalid column name'],
  [229, 'permission denied on object'],
  [230, 'permission denied on column'],
  [262, 'permission denied in database'],
  [102, 'incorrect syntax'],
  [137, 'must declare the scalar variable'],
  [2812, 'could not find stored procedure'],
  [3906, 'database is read-only'],
]);

/** "The statement has been terminated.": follows the real error, says nothing new. */
const STATEMENT_TERMINATED = 3621;

/**
 * `data`: the rows' values were refused, so the batch may be split to find the bad
 * rows. `outage`: anything else (connection, transient, statement, schema,
 * unknown): keep the batch and retry it. Unknown errors are outages on purpose:
 * dead-lettering a good row is worse than waiting.
 */
export type SqlFailure = 'data' | 'outage';

interface SqlErrorShape {
  number?: unknown;
  code?: unknown;
  precedingErrors?: unknown;
}

/** Every server error number the failure carries (mssql keeps earlier ones in precedingErrors). */
function errorNumbers(err: SqlErrorShape): number[] {
  const all = [err, ...(Array.isArray(err.precedingErrors) ? err.precedingErrors : [])];
  return all
    .map((e) => (e as SqlErrorShape).number)
    .filter((n): n is number => typeof n === 'number' && n !== STATEMENT_TERMINATED);
}

export function classifySqlError(err: unknown): SqlFailure {
  if (typeof err !== 'object' || err === null || isConnectionError(err)) return 'outage';
  const e = err as SqlErrorShape;
  // mssql refused a parameter value before sending it (e.g. a number out of range).
  if (e.code === 'EPARAM') return 'data';
  if (e.code !== 'EREQUEST') return 'outage';
  const numbers = errorNumbers(e);
  return numbers.length > 0 && numbers.every((n) => DATA_ERRORS.has(n)) ? 'data' : 'outage';
}

/** The error number (or driver code) alone: safe to log, never holds row data. */
export function sqlErrorId(err: unknown): { number?: number; code?: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SqlErrorShape;
  return {
    ...(typeof e.number === 'number' ? { number: e.number } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
  };
}

/**
 * The error as a dead letter keeps it: number and server message. The message may
 * quote the refused value (2628 does), so it goes to the admin API, never to logs.
 */
export function describeSqlError(err: unknown): string {
  const { number, code } = sqlErrorId(err);
  const message = err instanceof Error ? err.message : String(err);
  return `${number ?? code ?? 'error'}: ${message}`;
}

/** What the archive throws for `err`: data errors become RowsRefusedError, the rest pass as they are. */
export function archiveError(err: unknown): unknown {
  return classifySqlError(err) === 'data'
    ? new RowsRefusedError(describeSqlError(err), sqlErrorId(err), { cause: err })
    : err;
}

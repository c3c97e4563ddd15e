import sql from 'mssql';

/**
 * Errors built the way mssql builds them: a server error is a RequestError with
 * code EREQUEST around the driver's error, whose `info.number` is the SQL Server
 * error number; a lost connection is a ConnectionError.
 */
export function requestError(number: number, message: string): sql.RequestError {
  const driverError = Object.assign(new Error(message), {
    info: { number, state: 1, class: 16, lineNumber: 1, serverName: 'test', procName: '' },
  });
  return new sql.RequestError(driverError, 'EREQUEST');
}

export const truncated = (column = 'sender_name') =>
  requestError(
    2628,
    `String or binary data would be truncated in table 'switchboard.dbo.messages', column '${column}'. Truncated value: 'secret-data'.`,
  );

export const duplicateKey = () =>
  requestError(
    2627,
    "Violation of UNIQUE KEY constraint 'uq_messages_team_epoch_seq'. Cannot insert duplicate key in object 'dbo.messages'. The duplicate key value is (A, e1, 3).",
  );

export const deadlock = () =>
  requestError(
    1205,
    'Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.',
  );

export const lockTimeout = () => requestError(1222, 'Lock request time out period exceeded.');

export const missingTable = () => requestError(208, "Invalid object name 'dbo.messages'.");

export const permissionDenied = () =>
  requestError(
    229,
    "The INSERT permission was denied on the object 'messages', database 'switchboard', schema 'dbo'.",
  );

export const connectionLost = () =>
  new sql.ConnectionError('Connection lost - read ECONNRESET', 'ESOCKET');

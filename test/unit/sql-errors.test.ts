import sql from 'mssql';
import { AppError } from '../../services/errors';
import {
  classifySqlError,
  DATA_ERRORS,
  describeSqlError,
  sqlErrorId,
  STATEMENT_ERRORS,
  TRANSIENT_ERRORS,
} from '../../services/sql/errors';
import { connectionLost, requestError, truncated } from '../helpers/sql-errors';

/** Which failures may make a row poison, and which must keep the batch. */

test.each([...DATA_ERRORS.keys()])('server error %i is about the row: data', (number) => {
  expect(classifySqlError(requestError(number, 'refused'))).toBe('data');
});

test.each([...TRANSIENT_ERRORS.keys()])('server error %i passes with time: outage', (number) => {
  expect(classifySqlError(requestError(number, 'busy'))).toBe('outage');
});

test.each([...STATEMENT_ERRORS.keys()])(
  'server error %i is about the statement or schema: outage, never data',
  (number) => {
    expect(classifySqlError(requestError(number, 'statement'))).toBe('outage');
  },
);

test('the three lists do not overlap', () => {
  const data = [...DATA_ERRORS.keys()];
  expect(data.filter((n) => TRANSIENT_ERRORS.has(n) || STATEMENT_ERRORS.has(n))).toEqual([]);
});

test('an unknown server error is an outage: never dead-letter on a guess', () => {
  expect(classifySqlError(requestError(50000, 'raised by a trigger'))).toBe('outage');
  expect(classifySqlError(new sql.RequestError('no number at all', 'EREQUEST'))).toBe('outage');
});

test('connection failures and refusals while down are outages', () => {
  expect(classifySqlError(connectionLost())).toBe('outage');
  expect(classifySqlError(new sql.RequestError('Timeout: Request failed', 'ETIMEOUT'))).toBe(
    'outage',
  );
  expect(classifySqlError(new AppError('unavailable', 'database unavailable; retry'))).toBe(
    'outage',
  );
  expect(classifySqlError(new Error('anything else'))).toBe('outage');
  expect(classifySqlError(undefined)).toBe('outage');
});

test('a value mssql refuses before sending (EPARAM) is about the row', () => {
  // mssql wraps tedious' parameter validation this way; @types/mssql omits the code.
  const err = Object.assign(new sql.RequestError('Validation failed for parameter'), {
    code: 'EPARAM',
  });
  expect(classifySqlError(err)).toBe('data');
});

test('every error the statement raised counts: data only when all of them are about data', () => {
  const dataAfterDeadlock = Object.assign(truncated(), {
    precedingErrors: [requestError(1205, 'x')],
  });
  expect(classifySqlError(dataAfterDeadlock)).toBe('outage');
  const twoData = Object.assign(truncated(), { precedingErrors: [requestError(515, 'NULL')] });
  expect(classifySqlError(twoData)).toBe('data');
  // 3621 "The statement has been terminated." only follows the real error.
  const terminated = Object.assign(requestError(3621, 'The statement has been terminated.'), {
    precedingErrors: [truncated()],
  });
  expect(classifySqlError(terminated)).toBe('data');
});

test('what is logged is the number and code alone; the dead letter keeps the message', () => {
  const err = truncated();
  expect(sqlErrorId(err)).toEqual({ number: 2628, code: 'EREQUEST' });
  expect(describeSqlError(err)).toMatch(/^2628: String or binary data would be truncated/);
  expect(describeSqlError(connectionLost())).toMatch(/^ESOCKET: Connection lost/);
});

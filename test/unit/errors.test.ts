import { AppError, errorCatalogue, toAppError, type ErrorCode } from '../../services/errors';

/** The shape http-errors, koa-bodyparser and @koa/router throw. */
function httpError(
  status: number,
  message: string,
  extra: { expose?: boolean; useStatusCode?: boolean } = {},
): Error {
  const err = new Error(message) as Error & {
    status?: number;
    statusCode?: number;
    expose?: boolean;
  };
  if (extra.useStatusCode) err.statusCode = status;
  else err.status = status;
  err.expose = extra.expose ?? status < 500;
  return err;
}

describe('AppError', () => {
  test('takes its status from the catalogue', () => {
    for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
      const err = new AppError(code);
      expect(err.status).toBe(errorCatalogue[code].status);
      expect(err.message).toBe(errorCatalogue[code].message);
      expect(err.code).toBe(code);
      expect(err.name).toBe('AppError');
      expect(err).toBeInstanceOf(Error);
    }
  });

  test('keeps a custom message', () => {
    expect(new AppError('bad_request', 'to: required').message).toBe('to: required');
  });

  test('the catalogue maps each status to one code, but for banned, a kind of forbidden', () => {
    const statuses = Object.entries(errorCatalogue)
      .filter(([code]) => code !== 'banned')
      .map(([, e]) => e.status);
    expect(new Set(statuses).size).toBe(statuses.length);
    expect(errorCatalogue.banned.status).toBe(errorCatalogue.forbidden.status);
  });

  test('the protocol codes exist with their statuses', () => {
    expect(errorCatalogue.bad_request.status).toBe(400);
    expect(errorCatalogue.unauthorized.status).toBe(401);
    expect(errorCatalogue.forbidden.status).toBe(403);
    expect(errorCatalogue.not_found.status).toBe(404);
    expect(errorCatalogue.conflict.status).toBe(409);
    expect(errorCatalogue.payload_too_large.status).toBe(413);
    expect(errorCatalogue.rate_limited.status).toBe(429);
    expect(errorCatalogue.internal.status).toBe(500);
    expect(errorCatalogue.unavailable.status).toBe(503);
    // The admin API answers a publish of unknown outcome with it.
    expect(errorCatalogue.indeterminate.status).toBe(504);
  });
});

describe('toAppError', () => {
  test('an AppError passes through unchanged', () => {
    const err = new AppError('conflict', 'team t already exists');
    expect(toAppError(err)).toBe(err);
  });

  test.each([
    [400, 'bad_request'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [405, 'method_not_allowed'],
    [409, 'conflict'],
    [413, 'payload_too_large'],
    [415, 'unsupported_media_type'],
    [429, 'rate_limited'],
  ])('an http error with status %i becomes %s', (status, code) => {
    const err = toAppError(httpError(status, 'library says no', { expose: false }));
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
  });

  test('statusCode is read as well as status', () => {
    const err = toAppError(httpError(413, 'request entity too large', { useStatusCode: true }));
    expect(err.code).toBe('payload_too_large');
    expect(err.status).toBe(413);
  });

  test('an exposed message is kept', () => {
    const err = toAppError(httpError(400, 'invalid JSON body', { expose: true }));
    expect(err.message).toBe('invalid JSON body');
  });

  test('a message not marked exposed is replaced by the catalogue message', () => {
    const err = toAppError(httpError(404, 'internal path /x/y', { expose: false }));
    expect(err.message).toBe(errorCatalogue.not_found.message);
  });

  test('a plain object with a status is mapped too', () => {
    expect(toAppError({ status: 405 }).code).toBe('method_not_allowed');
  });

  test('the original error is kept as the cause', () => {
    const original = httpError(400, 'bad');
    expect(toAppError(original).cause).toBe(original);
  });

  test('an unlisted 4xx becomes bad_request 400', () => {
    const err = toAppError(httpError(418, "I'm a teapot", { expose: true }));
    expect(err.code).toBe('bad_request');
    expect(err.status).toBe(400);
  });

  test.each([
    ['an Error', new Error('ECONNREFUSED 10.0.0.5:6379 password=hunter2')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a string', 'db password is hunter2'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an http 500', httpError(500, 'boom hunter2', { expose: true })],
    ['an http 502', httpError(502, 'upstream hunter2')],
    ['an object with a non-number status', { status: '400', message: 'hunter2' }],
    ['a 3xx', httpError(302, 'redirect hunter2', { expose: true })],
  ])('%s becomes internal 500 with the generic message', (_label, thrown) => {
    const err = toAppError(thrown);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe('internal');
    expect(err.status).toBe(500);
    expect(err.message).toBe(errorCatalogue.internal.message);
    expect(err.message).not.toContain('hunter2');
    expect(err.cause).toBe(thrown);
  });
});

/**
 * Errors a person understands (issue 15): a body that is not JSON is 415 and says
 * what to send, a malformed cursor is 400, and validation messages name the field
 * and say what is expected in plain words, never the validator's own wording.
 */
import { connect, refusedHandshake } from '../helpers/client';
import { api, type TestServer } from '../helpers/server';
import { serverPerTest } from '../helpers/server-per-test';

interface ErrorBody {
  error: { code: string; message: string };
}

/** zod's own wording, which must never reach a client. */
const ZOD_WORDING = /Invalid input|received|Too (small|big)|Invalid string|nonoptional/;

const servers = serverPerTest();
let server: TestServer;

beforeEach(async () => {
  server = await servers.start();
});

function errorOf(res: { status: number; body: unknown }, status: number, code: string): string {
  expect(res.status).toBe(status);
  const body = res.body as ErrorBody;
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  return body.error.message;
}

describe('a body that is not JSON', () => {
  const JSON_TEXT = JSON.stringify({ id: 'team-a', name: 'Team A' });

  it.each([
    ['text/plain', 'POST', '/api/teams'],
    ['application/x-www-form-urlencoded', 'POST', '/api/teams'],
    ['text/html; charset=utf-8', 'POST', '/api/teams/team-a/messages'],
    ['application/xml', 'POST', '/api/broadcast'],
    ['text/plain', 'PATCH', '/api/teams/team-a'],
  ])('%s on %s %s: 415 saying to send JSON', async (type, method, path) => {
    const res = await api(server, method, path, {
      rawBody: JSON_TEXT,
      headers: { 'content-type': type },
    });
    const message = errorOf(res, 415, 'unsupported_media_type');
    expect(message).toBe('send JSON (Content-Type: application/json)');
  });

  it('creates nothing', async () => {
    await api(server, 'POST', '/api/teams', {
      rawBody: JSON_TEXT,
      headers: { 'content-type': 'text/plain' },
    });
    expect((await api(server, 'GET', '/api/teams')).body).toEqual({ teams: [] });
  });

  it('JSON with a charset, and the +json types, are read as JSON', async () => {
    const withCharset = await api(server, 'POST', '/api/teams', {
      rawBody: JSON_TEXT,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(withCharset.status).toBe(201);
    const vendor = await api(server, 'PATCH', '/api/teams/team-a', {
      rawBody: JSON.stringify({ name: 'Renamed' }),
      headers: { 'content-type': 'application/vnd.api+json' },
    });
    expect(vendor.status).toBe(200);
  });

  it('a request without a body is not a media-type problem: 400 naming the fields', async () => {
    const res = await api(server, 'POST', '/api/teams');
    expect(errorOf(res, 400, 'bad_request')).toMatch(/^id: missing/);
  });

  it('the token is checked first: 401 without it', async () => {
    const res = await api(server, 'POST', '/api/teams', {
      rawBody: JSON_TEXT,
      token: null,
      headers: { 'content-type': 'text/plain' },
    });
    errorOf(res, 401, 'unauthorized');
  });
});

describe('a malformed cursor', () => {
  it.each([
    ['characters base64url has not', '!!!'],
    ['padding', 'YWJj=='],
    ['a connId no server makes', Buffer.from('bad id/x').toString('base64url')],
    ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x41]).toString('base64url')],
    ['a cursor too long', 'c'.repeat(300)],
  ])('%s: 400 naming the cursor', async (_label, cursor) => {
    const res = await api(server, 'GET', `/api/connections?cursor=${encodeURIComponent(cursor)}`);
    expect(errorOf(res, 400, 'bad_request')).toMatch(/^cursor: /);
  });

  it('a cursor the server gave still pages', async () => {
    for (const id of ['u1', 'u2', 'u3'])
      servers.keep(await connect(server.socketUrl, { id, teamId: 'A' }));
    const first = await api<{ next: string | null }>(server, 'GET', '/api/connections?limit=2');
    expect(first.body.next).not.toBeNull();
    const second = await api<{ connections: unknown[]; next: string | null }>(
      server,
      'GET',
      `/api/connections?limit=2&cursor=${encodeURIComponent(first.body.next!)}`,
    );
    expect(second.status).toBe(200);
    expect(second.body.connections).toHaveLength(1);
  });
});

describe('validation messages in plain words', () => {
  const ID_RULE = 'expected 1 to 64 characters of A-Z a-z 0-9 _ . : @ -';
  const NAME_RULE = 'expected a string of 1 to 100 characters';

  it.each<[string, string, string, unknown, string]>([
    [
      'both fields missing',
      'POST',
      '/api/teams',
      {},
      `id: missing; ${ID_RULE}; name: missing; ${NAME_RULE}`,
    ],
    [
      'a number for an id',
      'POST',
      '/api/teams',
      { id: 5, name: 'A' },
      `id: ${ID_RULE}, got a number`,
    ],
    ['an id with a space', 'POST', '/api/teams', { id: 'a b', name: 'A' }, `id: ${ID_RULE}`],
    [
      'a name too long',
      'POST',
      '/api/teams',
      { id: 'a', name: 'n'.repeat(101) },
      `name: ${NAME_RULE}`,
    ],
    [
      'a control character in a name',
      'PATCH',
      '/api/teams/a',
      { name: 'a\u0007b' },
      `name: ${NAME_RULE} without control characters`,
    ],
    ['an array body', 'POST', '/api/teams', [], 'body: expected a JSON object, got an array'],
    ['an array ban', 'POST', '/api/bans', [], 'body: expected a JSON object, got an array'],
    [
      'a publish without data',
      'POST',
      '/api/teams/a/messages',
      { to: 'b' },
      'data: missing; expected any JSON value',
    ],
    [
      'a sender without a name',
      'POST',
      '/api/teams/a/messages',
      { data: 1, from: { id: 'bot' } },
      `from.name: missing; ${NAME_RULE}`,
    ],
  ])('%s', async (_label, method, path, body, expected) => {
    const message = errorOf(await api(server, method, path, { body }), 400, 'bad_request');
    expect(message).toBe(expected);
    expect(message).not.toMatch(ZOD_WORDING);
  });

  it.each([
    ['/api/connections?limit=abc', 'limit: expected a whole number from 1 to 1000'],
    ['/api/connections?limit=1001', 'limit: expected a whole number from 1 to 1000'],
    ['/api/connections?limit=1.5', 'limit: expected a whole number from 1 to 1000, got a fraction'],
    [
      '/api/connections?teamId=a%20b',
      'teamId: expected 1 to 64 characters of A-Z a-z 0-9 _ . : @ -',
    ],
    ['/api/dead-letters?limit=0', 'limit: expected a whole number from 1 to 1000'],
  ])('GET %s', async (path, expected) => {
    const message = errorOf(await api(server, 'GET', path), 400, 'bad_request');
    expect(message).toBe(expected);
  });

  it('GET /api/teams/a/messages?limit=0 names limit', async () => {
    await api(server, 'POST', '/api/teams', { body: { id: 'a', name: 'A' } });
    const res = await api(server, 'GET', '/api/teams/a/messages?limit=0');
    expect(errorOf(res, 400, 'bad_request')).toBe('limit: expected a whole number of at least 1');
  });

  it('socket handshakes and frames use the same words', async () => {
    const refused = await refusedHandshake(`${server.socketUrl}?id=a&teamId=A`);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain(`name: missing; ${NAME_RULE}`);
    const client = await servers.open('u1');
    client.send({ type: 'direct', to: 5, data: 1 });
    const error = await client.next('error');
    expect(error['message']).toBe(`to: ${ID_RULE}, got a number`);
  });
});

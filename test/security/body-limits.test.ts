/**
 * Security review, size limits. A body over BODY_LIMIT_BYTES answering 413 (and
 * publishing nothing) is in test/integration/admin-api.test.ts, a frame over
 * MAX_MESSAGE_BYTES closing with 1009 in test/integration/socket-limits.test.ts.
 * This file adds the ways around a length check: a chunked body with no
 * Content-Length, a compressed body that inflates past the limit, and oversized
 * request heads.
 */
import { request } from 'node:http';
import { gzipSync, deflateSync } from 'node:zlib';
import { api, ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server';

const LIMIT = 4096;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ BODY_LIMIT_BYTES: String(LIMIT) });
});

afterAll(async () => {
  await server.close();
});

function post(
  path: string,
  chunks: Buffer[],
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'content-type': 'application/json',
          ...headers,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    // The server may answer 413 and close before it has read everything.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

async function teamIds(): Promise<string[]> {
  const res = await api<{ teams: { id: string }[] }>(server, 'GET', '/api/teams');
  return res.body.teams.map((t) => t.id);
}

const bigTeam = (bytes: number) =>
  Buffer.from(JSON.stringify({ id: 'too-big', name: 'x', pad: 'p'.repeat(bytes) }));

test('a chunked body (no Content-Length) past the limit gets 413 and creates nothing', async () => {
  const body = bigTeam(LIMIT * 4);
  const chunks: Buffer[] = [];
  for (let i = 0; i < body.length; i += 512) chunks.push(body.subarray(i, i + 512));
  const res = await post('/api/teams', chunks, { 'transfer-encoding': 'chunked' });
  expect(res.status).toBe(413);
  expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'payload_too_large' } });
  expect(await teamIds()).toEqual([]);
});

test('a Content-Length that understates the body does not get more than the limit read', async () => {
  const body = bigTeam(LIMIT * 4);
  const res = await post('/api/teams', [body], { 'content-length': '100' });
  // Node reads 100 bytes as the body (invalid JSON): 400. The rest is a second request it refuses.
  expect([400, 413]).toContain(res.status);
  expect(await teamIds()).toEqual([]);
});

test.each([
  ['gzip', gzipSync],
  ['deflate', deflateSync],
])('a %s body that inflates to 64 MiB gets 413 and creates nothing', async (encoding, zip) => {
  const bomb = zip(
    Buffer.concat([
      Buffer.from('{"id":"bomb","name":"b","pad":"'),
      Buffer.alloc(64 * 1024 * 1024, 0x61),
      Buffer.from('"}'),
    ]),
  );
  expect(bomb.length).toBeLessThan(LIMIT * 64);
  const res = await post('/api/teams', [bomb], {
    'content-encoding': encoding,
    'content-length': String(bomb.length),
  });
  expect(res.status).toBe(413);
  expect(await teamIds()).toEqual([]);
});

test('a small compressed body under the limit is accepted: compression is supported, not a bypass', async () => {
  const body = gzipSync(Buffer.from(JSON.stringify({ id: 'zipped', name: 'Z' })));
  const res = await post('/api/teams', [body], {
    'content-encoding': 'gzip',
    'content-length': String(body.length),
  });
  expect(res.status).toBe(201);
  expect(await teamIds()).toEqual(['zipped']);
});

test('request heads over 16 KiB (a long URL or header) get 431, and the server answers after', async () => {
  const longUrl = await fetch(`${server.http}/api/teams?x=${'a'.repeat(20_000)}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(longUrl.status).toBe(431);
  const longHeader = await fetch(`${server.http}/api/health`, {
    headers: { 'x-pad': 'a'.repeat(20_000) },
  });
  expect(longHeader.status).toBe(431);
  expect((await api(server, 'GET', '/api/health', { token: null })).status).toBe(200);
});

/**
 * Fuzzing the admin REST API (docs/PROTOCOL.md §8): bodies, paths, methods and query
 * strings. Properties: bad input gets a 4xx with a JSON error and never a 5xx or a
 * stack; a refused request changes nothing (teams, messages published); an accepted
 * one does exactly what the contract says; nothing pollutes a prototype.
 */
import { Agent, request } from 'node:http';
import fc from 'fast-check';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server';
import {
  anyText,
  expectAlive,
  expectNoPollution,
  fcOptions,
  FUZZ_TIMEOUT,
  hostileKey,
  InputCounter,
  jsonTree,
  LEAK,
  pollutingTree,
  runs,
  toJson,
  type JsonTree,
} from './fuzz-support';

const ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const TEAM = 'rest-team';
const STANDARD = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const counter = new InputCounter();
let server: TestServer;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  server = await startTestServer({ LOG_LEVEL: 'warn', BODY_LIMIT_BYTES: '4096' });
  const created = await call('POST', '/api/teams', {
    body: JSON.stringify({ id: TEAM, name: 'REST' }),
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  counter.report('rest-api');
  agent.destroy();
  await server?.close();
});

interface Reply {
  status: number;
  type: string;
  text: string;
}

/** A raw HTTP request: any method, path and body, with the admin token unless told otherwise. */
function call(
  method: string,
  path: string,
  options: { body?: string; contentType?: string; token?: string | null } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const token = options.token === undefined ? ADMIN_TOKEN : options.token;
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = request(
      { host: '127.0.0.1', port: server.port, method, path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function json<T>(reply: Reply): T {
  return JSON.parse(reply.text) as T;
}

/** A refusal: 4xx, a JSON error of the catalogue's shape, no stack or source path. */
function expectCleanError(reply: Reply, method = 'GET'): void {
  expect(reply.text).not.toMatch(LEAK);
  if (method === 'HEAD') return;
  expect(reply.type).toMatch(/application\/json/);
  expect(json(reply)).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
}

/** What the server holds that a request could change: team ids and messages published. */
async function fingerprint(): Promise<string> {
  const teams = await call('GET', '/api/teams');
  const metrics = await call('GET', '/metrics');
  const published = metrics.text
    .split('\n')
    .filter((l) => l.startsWith('switchboard_messages_published_total'))
    .join('|');
  const ids = json<{ teams: { id: string }[] }>(teams).teams.map((t) => t.id);
  return `${ids.join(',')} ${published}`;
}

const nameOk = (s: unknown) =>
  typeof s === 'string' && [...s].length >= 1 && [...s].length <= 100 && !/\p{Cc}/u.test(s);
const idOk = (s: unknown) => typeof s === 'string' && ID.test(s);

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * koa-bodyparser (co-body with @hapi/bourne, protoAction 'error') refuses any body
 * with a `__proto__` member, at any depth, with 400: such a body is never valid.
 */
function hasProtoKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey);
  if (!isObject(v)) return false;
  return Object.keys(v).some((k) => k === '__proto__' || hasProtoKey(v[k]));
}

const obj = (...entries: [string, JsonTree][]): JsonTree => ({ kind: 'object', entries });
const extras = fc.array(
  fc.tuple(
    hostileKey.filter((k) => !['id', 'name', 'data', 'to', 'from'].includes(k)),
    jsonTree,
  ),
  { maxLength: 3 },
);
const validId = fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,64}$/);
const anyValue: fc.Arbitrary<JsonTree> = fc.oneof(jsonTree, anyText, validId);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/vnd.api+json',
      'multipart/form-data; boundary=x',
      'application/xml',
    ),
  },
);

describe('REST bodies', () => {
  test(
    'POST /api/teams: 201 exactly for a new valid team, else a clean 4xx and no change',
    async () => {
      const teams = new Set([TEAM]);
      /** Refused requests must leave this as it is; accepted ones move it on. */
      let state = await fingerprint();
      const body = fc.oneof(
        fc
          .tuple(validId, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), extras)
          .map(([id, name, more]) => toJson(obj(['id', id], ['name', name], ...more))),
        fc
          .tuple(anyValue, anyValue, extras)
          .map(([id, name, more]) => toJson(obj(['id', id], ['name', name], ...more))),
        jsonTree.map(toJson),
        pollutingTree.map(toJson),
        fc
          .tuple(validId, pollutingTree)
          .map(([id, p]) => toJson(obj(['__proto__', obj(['id', id], ['name', 'n'])], ['x', p]))),
        anyText,
        fc.constantFrom('', 'null', '[]', '"x"', '1', '{', '{"id":', 'x'.repeat(5000)),
      );
      await fc.assert(
        fc.asyncProperty(body, contentType, async (text, type) => {
          counter.add('team bodies');
          const reply = await call('POST', '/api/teams', { body: text, contentType: type });
          counter.note(`teams ${reply.status}`);
          const v = parsed(text);
          const valid = isObject(v) && !hasProtoKey(v) && idOk(v['id']) && nameOk(v['name']);
          if (reply.status === 201) {
            expect(valid).toBe(true);
            const id = (v as { id: string }).id;
            expect(teams.has(id)).toBe(false);
            expect(json<{ id: string }>(reply).id).toBe(id);
            teams.add(id);
            state = await fingerprint();
            return;
          }
          expect([400, 409, 413, 415]).toContain(reply.status);
          expectCleanError(reply);
          if (reply.status === 409) expect(teams.has((v as { id: string }).id)).toBe(true);
          if (valid && type === 'application/json' && reply.status !== 409)
            throw new Error(`a valid body was refused: ${reply.status} ${reply.text}`);
          expect(await fingerprint()).toBe(state);
        }),
        fcOptions(runs(1)),
      );
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );

  test(
    'POST /api/teams/:teamId/messages: 201 with the next seq exactly for a valid body, else a clean 4xx and nothing published',
    async () => {
      let seq = 0;
      let state = await fingerprint();
      const sender = fc.oneof(
        fc
          .tuple(validId, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }))
          .map(([id, name]) => obj(['id', id], ['name', name])),
        fc.tuple(anyValue, anyValue).map(([id, name]) => obj(['id', id], ['name', name])),
        jsonTree,
      );
      const body = fc.oneof(
        fc
          .tuple(
            jsonTree,
            fc.option(fc.oneof(validId, anyValue), { nil: undefined }),
            fc.option(sender, { nil: undefined }),
            extras,
          )
          .map(([data, to, from, more]) =>
            toJson(
              obj(
                ['data', data],
                ...(to === undefined ? [] : [['to', to] as [string, JsonTree]]),
                ...(from === undefined ? [] : [['from', from] as [string, JsonTree]]),
                ...more,
              ),
            ),
          ),
        pollutingTree.map((p) => toJson(obj(['data', p], ['__proto__', obj(['to', 'x'])]))),
        jsonTree.map(toJson),
        anyText,
      );
      await fc.assert(
        fc.asyncProperty(body, contentType, async (text, type) => {
          counter.add('message bodies');
          const reply = await call('POST', `/api/teams/${TEAM}/messages`, {
            body: text,
            contentType: type,
          });
          counter.note(`messages ${reply.status}`);
          const v = parsed(text);
          const from = isObject(v) ? v['from'] : undefined;
          const valid =
            isObject(v) &&
            !hasProtoKey(v) &&
            v['data'] !== undefined &&
            (v['to'] === undefined || idOk(v['to'])) &&
            (from === undefined || (isObject(from) && idOk(from['id']) && nameOk(from['name'])));
          if (reply.status === 201) {
            expect(valid).toBe(true);
            expect(json<{ seq: number }>(reply).seq).toBe(++seq);
            state = await fingerprint();
            return;
          }
          expect([400, 413, 415]).toContain(reply.status);
          expectCleanError(reply);
          if (valid && type === 'application/json')
            throw new Error(`a valid body was refused: ${reply.status} ${reply.text}`);
          expect(await fingerprint()).toBe(state);
        }),
        fcOptions(runs(1)),
      );
      const head = await call('GET', `/api/teams/${TEAM}/messages?limit=1`);
      expect(json<{ messages: { seq: number }[] }>(head).messages.at(-1)?.seq ?? 0).toBe(seq);
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );
});

const WORDS = [
  'api',
  'teams',
  'connections',
  'messages',
  'broadcast',
  'metrics',
  'health',
  'ready',
  'socket',
  'admin',
  'assets',
  'client',
  TEAM,
  '..',
  '.',
  '%2e%2e',
  '%2F',
  '%00',
  '%zz',
  '%',
  'API',
  '__proto__',
  'constructor',
];
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 2, arbitrary: anyText.map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.stringMatching(/^[!$&'()*+,;=:@A-Za-z0-9._~-]{0,12}$/) },
);
const query = fc.oneof(
  fc.constant(''),
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom('limit', 'before', 'cursor', 'teamId', 'userId', 'token', '__proto__'),
          fc.string({ maxLength: 6 }).map(encodeURIComponent),
        ),
        fc.oneof(
          fc.constantFrom('0', '-1', '1.5', '1e3', '201', '99999999999999999999', '', 'x', 'NaN'),
          anyText.map(encodeURIComponent),
        ),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  fc.constantFrom(
    '?',
    '?&',
    '?=',
    '?a[b]=1',
    '?__proto__[polluted]=1',
    '?constructor[prototype][polluted]=1',
  ),
);
const path = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean(), query)
  .map(([parts, slash, q]) => `/${parts.join('/')}${slash ? '/' : ''}${q}`);

describe('REST paths and methods', () => {
  test(
    'any path, standard method, token or not: below 500, errors in JSON, refusals change nothing',
    async () => {
      let state = await fingerprint();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...STANDARD),
          path,
          fc.constantFrom<string | null | undefined>(
            undefined,
            undefined,
            null,
            'wrong-token-0123456789',
          ),
          fc.option(jsonTree.map(toJson), { nil: undefined }),
          async (method, p, token, body) => {
            counter.add('paths');
            const reply = await call(method, p, {
              ...(token === undefined ? {} : { token }),
              ...(body === undefined || method === 'GET' || method === 'HEAD' ? {} : { body }),
            });
            counter.note(`paths ${reply.status}`);
            if (reply.status >= 500)
              throw new Error(`${method} ${p}: ${reply.status} ${reply.text}`);
            if (reply.status >= 400) {
              expectCleanError(reply, method);
              expect(await fingerprint()).toBe(state);
            } else {
              state = await fingerprint();
            }
          },
        ),
        fcOptions(runs(1)),
      );
      await expectAlive(server);
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );

  test(
    'methods outside the standard set: 405 or 501 not_implemented, never 500',
    async () => {
      const method = fc.oneof(
        fc.constantFrom('PROPFIND', 'TRACE', 'PURGE', 'SEARCH', 'LOCK', 'MKCOL', 'REPORT', 'LINK'),
        fc.stringMatching(/^[A-Z]{3,10}$/).filter((m) => !STANDARD.includes(m) && m !== 'CONNECT'),
      );
      await fc.assert(
        fc.asyncProperty(
          method,
          fc.constantFrom('/api/health', '/api/teams', `/api/teams/${TEAM}`, '/nope', '/'),
          fc.boolean(),
          async (m, p, withToken) => {
            counter.add('methods');
            const reply = await call(m, p, withToken ? {} : { token: null });
            counter.note(`methods ${reply.status}`);
            expect(reply.text).not.toMatch(LEAK);
            // RFC 9110 §15.6.2: 501 is the answer for a method the server does not know.
            if (reply.status >= 500) {
              expect({ method: m, path: p, status: reply.status, body: reply.text }).toEqual({
                method: m,
                path: p,
                status: 501,
                body: expect.stringContaining('"not_implemented"'),
              });
            }
          },
        ),
        fcOptions(runs(0.25)),
      );
    },
    FUZZ_TIMEOUT,
  );

  test(
    'query strings of the list routes: 200 or a clean 400, never 5xx',
    async () => {
      const route = fc.constantFrom(
        '/api/connections',
        `/api/teams/${TEAM}/messages`,
        '/api/teams',
      );
      await fc.assert(
        fc.asyncProperty(route, query, async (r, q) => {
          counter.add('queries');
          const reply = await call('GET', `${r}${q}`);
          counter.note(`queries ${reply.status}`);
          expect([200, 400]).toContain(reply.status);
          if (reply.status === 400) expectCleanError(reply);
        }),
        fcOptions(runs(1)),
      );
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );
});

describe('deep values', () => {
  /** Same defect as in socket-frames.test.ts: deep data is stored, then every read of it fails. */
  test(
    'deeply nested data via POST .../messages is refused with 400 or stored readable',
    async () => {
      const big = await startTestServer({ LOG_LEVEL: 'silent', BODY_LIMIT_BYTES: '1048576' });
      try {
        let team = 0;
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 100_000 }), async (depth) => {
            counter.add('deep bodies');
            const teamId = `deep-${++team}`;
            const headers = {
              authorization: `Bearer ${ADMIN_TOKEN}`,
              'content-type': 'application/json',
            };
            await fetch(`${big.http}/api/teams`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ id: teamId, name: teamId }),
            });
            const res = await fetch(`${big.http}/api/teams/${teamId}/messages`, {
              method: 'POST',
              headers,
              body: `{"data":${'['.repeat(depth)}${']'.repeat(depth)}}`,
            });
            expect([201, 400]).toContain(res.status);
            const history = await fetch(`${big.http}/api/teams/${teamId}/messages`, { headers });
            expect(history.status).toBe(200);
          }),
          fcOptions(runs(0.1)),
        );
      } finally {
        await big.close();
      }
    },
    FUZZ_TIMEOUT,
  );
});

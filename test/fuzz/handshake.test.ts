/**
 * Fuzzing the WebSocket handshake (docs/PROTOCOL.md §1): query strings, raw request lines,
 * headers and tokens. Properties: a handshake is accepted exactly when its
 * parameters are valid (and, with AUTH_SECRET, its token is an HS256 JWT for this
 * user and team that has not expired); every refusal is a 4xx before the upgrade
 * that leaves no connection behind; the server never answers 5xx and still answers
 * afterwards; nothing pollutes a prototype.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import WebSocket from 'ws';
import { TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { startTestServer, type TestServer } from '../helpers/server';
import {
  anyText,
  expectAlive,
  expectNoPollution,
  fcOptions,
  FUZZ_TIMEOUT,
  hostileKey,
  InputCounter,
  LEAK,
  rawExchange,
  runs,
} from './fuzz-support';

const ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const SECRET = 'fuzz-secret-that-is-at-least-32-characters';
const ALLOWED = ['https://app.example.com', 'https://admin.example.com'];

const counter = new InputCounter();
let open: TestServer;
let authed: TestServer;

beforeAll(async () => {
  const env = { MAX_CONNECTIONS_PER_IP: '0', LOG_LEVEL: 'warn' };
  open = await startTestServer(env);
  authed = await startTestServer({
    ...env,
    AUTH_SECRET: SECRET,
    ALLOWED_ORIGINS: ALLOWED.join(','),
  });
});

afterAll(async () => {
  counter.report('handshake');
  await open?.close();
  await authed?.close();
});

type Outcome = { status: 101; welcome: Record<string, unknown> } | { status: number; body: string };

/** Opens a socket; on 101 waits for the welcome and closes again. */
function handshake(url: string, options: WebSocket.ClientOptions = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
    ws.on('open', () => {
      client.next('welcome').then(async (welcome) => {
        await client.close();
        resolve({ status: 101, welcome });
      }, reject);
    });
  });
}

/** No connection is left open or half-registered after the socket went away. */
async function expectNoConnections(server: TestServer): Promise<void> {
  await eventually(() => server.app.hub.size === 0);
}

function expectRefusal(outcome: Outcome, statuses: number[]): void {
  expect(statuses).toContain(outcome.status);
  if ('body' in outcome) {
    const body = JSON.parse(outcome.body) as { error: { code: string; message: string } };
    expect(body.error.code).toEqual(expect.any(String));
    expect(outcome.body).not.toMatch(LEAK);
  }
}

describe('query strings', () => {
  const nameOk = (s: string) => {
    const n = [...s].length;
    return n >= 1 && n <= 100 && !/\p{Cc}/u.test(s);
  };
  const value = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,64}$/),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    anyText,
    fc.constantFrom('', 'x'.repeat(65), '张三', 'a b', 'a%2Fb', '\u0007', '0', '-1', '1.5'),
  );
  const since = fc.oneof(
    fc.nat().map(String),
    fc.constantFrom('', '-1', 'x', '1.5', '9'.repeat(16), '1e3', ' 1'),
  );
  const epoch = fc.oneof(fc.string({ maxLength: 70 }), anyText);
  const token = fc.oneof(fc.string({ maxLength: 40 }), fc.constant(''));
  /** Mostly one valid value, else absent, twice, or anything: accepted and refused both get runs. */
  const many = (valid: fc.Arbitrary<string>, random: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 8, arbitrary: valid.map((v) => [v]) },
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(valid, { minLength: 2, maxLength: 2 }) },
      { weight: 2, arbitrary: random.map((v) => [v]) },
    );
  const optional = (valid: fc.Arbitrary<string>, random: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: many(valid, random) },
    );
  const validId = fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,64}$/);
  const validName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });

  const query = fc
    .record({
      id: many(validId, value),
      name: many(validName, value),
      teamId: many(validId, value),
      since: optional(fc.nat().map(String), since),
      epoch: optional(fc.string({ minLength: 1, maxLength: 64 }), epoch),
      token: optional(fc.string({ minLength: 1, maxLength: 40 }), token),
      extra: fc.array(fc.tuple(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), anyText), {
        maxLength: 3,
      }),
    })
    .map(({ extra, ...known }) => {
      const q = new URLSearchParams();
      for (const [key, values] of Object.entries(known)) for (const v of values) q.append(key, v);
      for (const [k, v] of extra) q.append(k, v);
      return q.toString();
    });

  /** docs/PROTOCOL.md §1 (the limits for since/epoch/token included), read off what the server receives. */
  function acceptable(qs: string): boolean {
    const q = new URLSearchParams(qs);
    const one = (key: string) => {
      const all = q.getAll(key);
      return all.length === 1 ? all[0] : all.length === 0 ? undefined : null;
    };
    const id = one('id');
    const teamId = one('teamId');
    const name = one('name');
    const s = one('since');
    const e = one('epoch');
    const t = one('token');
    return (
      typeof id === 'string' &&
      ID.test(id) &&
      typeof teamId === 'string' &&
      ID.test(teamId) &&
      typeof name === 'string' &&
      nameOk(name) &&
      s !== null &&
      (s === undefined || /^\d{1,15}$/.test(s)) &&
      e !== null &&
      (e === undefined || (e.length >= 1 && e.length <= 64)) &&
      t !== null &&
      (t === undefined || (t.length >= 1 && t.length <= 4096))
    );
  }

  test(
    'a handshake is accepted exactly when its parameters are valid; a refusal is 400 and leaves nothing',
    async () => {
      await fc.assert(
        fc.asyncProperty(query, async (qs) => {
          counter.add('query strings');
          const outcome = await handshake(`${open.socketUrl}?${qs}`);
          const q = new URLSearchParams(qs);
          counter.note(`query ${outcome.status}`);
          if (acceptable(qs)) {
            expect(outcome.status).toBe(101);
            if (outcome.status === 101 && 'welcome' in outcome) {
              expect(outcome.welcome['user']).toEqual({ id: q.get('id'), name: q.get('name') });
              expect(outcome.welcome['teamId']).toBe(q.get('teamId'));
            }
          } else {
            expectRefusal(outcome, [400]);
          }
          await expectNoConnections(open);
        }),
        fcOptions(runs(1)),
      );
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );

  test(
    'raw request targets: any bytes after /socket? get an answer below 500',
    async () => {
      const target = fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc
          .array(
            fc.oneof(
              fc.constantFrom('&', '=', '%', '%%', '%zz', '%00', '%ff', '%2F', '#', '?', '+', '..'),
              fc.string({ maxLength: 6 }),
              fc.constantFrom(
                'id=a',
                'name=b',
                'teamId=c',
                'id=',
                '__proto__=1',
                'constructor[x]=1',
              ),
            ),
            { maxLength: 12 },
          )
          .map((parts) => Buffer.from(parts.join(''), 'latin1')),
      );
      await fc.assert(
        fc.asyncProperty(fc.boolean(), target, async (withParams, bytes) => {
          counter.add('raw request targets');
          const request = Buffer.concat([
            Buffer.from(`GET /socket?${withParams ? 'id=a&name=b&teamId=c&' : ''}`),
            bytes,
            Buffer.from(
              ' HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
                'Sec-WebSocket-Version: 13\r\n\r\n',
            ),
          ]);
          const res = await rawExchange(open.port, request);
          counter.note(`target ${res.status}`);
          expect(res.status).not.toBe(0);
          if (res.status !== 101) expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(res.body).not.toMatch(LEAK);
          await expectNoConnections(open);
        }),
        fcOptions(runs(1)),
      );
      await expectAlive(open);
    },
    FUZZ_TIMEOUT,
  );

  test(
    'headers: random upgrade headers and extra header lines get an answer below 500',
    async () => {
      const headerValue = fc.oneof(
        fc.string({ maxLength: 30 }),
        fc
          .uint8Array({ maxLength: 30 })
          .map((b) => Buffer.from(b.filter((x) => x !== 10 && x !== 13)).toString('latin1')),
      );
      /** Optional headers: mostly absent. */
      const field = (name: string, values: fc.Arbitrary<string>) =>
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: values.map((v) => `${name}: ${v}`) },
        );
      /** Headers an upgrade needs: mostly right, else absent or anything. */
      const needed = (name: string, good: string, values: fc.Arbitrary<string>) =>
        fc.oneof(
          { weight: 6, arbitrary: fc.constant(`${name}: ${good}`) },
          { weight: 1, arbitrary: fc.constant(undefined) },
          { weight: 2, arbitrary: values.map((v) => `${name}: ${v}`) },
        );
      const fields = fc.tuple(
        needed(
          'Upgrade',
          'websocket',
          fc.oneof(fc.constantFrom('websocket', 'WebSocket', 'h2c', ''), headerValue),
        ),
        needed(
          'Connection',
          'Upgrade',
          fc.oneof(fc.constantFrom('Upgrade', 'keep-alive, Upgrade', 'close'), headerValue),
        ),
        needed(
          'Sec-WebSocket-Key',
          randomBytes(16).toString('base64'),
          fc.oneof(fc.constant(randomBytes(16).toString('base64')), headerValue),
        ),
        needed(
          'Sec-WebSocket-Version',
          '13',
          fc.oneof(fc.constantFrom('13', '8', '14', ''), headerValue),
        ),
        field('Sec-WebSocket-Protocol', headerValue),
        field('Sec-WebSocket-Extensions', fc.oneof(fc.constant('permessage-deflate'), headerValue)),
        field('Origin', fc.oneof(fc.constantFrom('null', 'https://x.example'), headerValue)),
        field(
          'X-Forwarded-For',
          fc.oneof(fc.constantFrom('10.0.0.1', '::1', 'unknown'), headerValue),
        ),
        field('X-Request-Id', headerValue),
        field('Content-Length', fc.oneof(fc.constantFrom('0', '5', '-1', 'x'), headerValue)),
        field('Transfer-Encoding', fc.oneof(fc.constantFrom('chunked', 'gzip'), headerValue)),
      );
      const extra = fc.array(
        fc
          .tuple(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/), headerValue)
          .map(([n, v]) => `${n}: ${v}`),
        { maxLength: 4 },
      );
      const headers = fc
        .tuple(fields, extra)
        .map(([known, more]) => [...known.filter((f) => f !== undefined), ...more]);
      await fc.assert(
        fc.asyncProperty(headers, async (lines) => {
          counter.add('header sets');
          const head =
            'GET /socket?id=u1&name=n&teamId=T HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
            lines.map((l) => `${l}\r\n`).join('') +
            '\r\n';
          const res = await rawExchange(open.port, Buffer.from(head, 'latin1'));
          counter.note(`headers ${res.status}`);
          expect(res.status).not.toBe(0);
          expect(res.status).toBeLessThan(500);
          expect(res.body).not.toMatch(LEAK);
          await expectNoConnections(open);
        }),
        fcOptions(runs(1)),
      );
      await expectAlive(open);
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );
});

describe('tokens and origins (AUTH_SECRET and ALLOWED_ORIGINS set)', () => {
  async function expectAliveWithToken(): Promise<void> {
    const t = now();
    const input = `${b64({ alg: 'HS256' })}.${b64({ sub: 'u1', team: 'A', exp: t + 60 })}`;
    const url = `${authed.socketUrl}?${new URLSearchParams({
      id: 'u1',
      name: 'Ann',
      teamId: 'A',
      token: `${input}.${sign(input, SECRET)}`,
    }).toString()}`;
    expect((await handshake(url)).status).toBe(101);
  }

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const sign = (input: string, secret: string) =>
    createHmac('sha256', secret).update(input).digest('base64url');
  const now = () => Math.floor(Date.now() / 1000);

  /** Mostly the value a good client sends, sometimes one of the others: both outcomes get runs. */
  const mostly = <T>(usual: T, ...others: T[]) =>
    fc.oneof(
      { weight: 5, arbitrary: fc.constant(usual) },
      { weight: 1, arbitrary: fc.constantFrom(...others) },
    );
  const maybe = <T>(arb: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

  const headerArb = fc.record({
    alg: mostly('HS256', 'HS384', 'HS512', 'none', 'None', 'RS256', 'ES256', '', 'hs256'),
    typ: maybe(fc.constantFrom('JWT', 'jwt', 'at+jwt')),
    kid: maybe(fc.string({ maxLength: 8 })),
    crit: maybe(fc.constant(['exp'])),
    b64: maybe(fc.constant(false)),
  });
  const claimsArb = fc.record({
    sub: fc.oneof(
      { weight: 5, arbitrary: fc.constant<string | number>('u1') },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('u2', 'U1', ''), fc.integer()) },
    ),
    team: mostly<string | null>('A', 'B', 'a', null),
    name: maybe(fc.constantFrom('Ann', 'Ann', 'Eve', '')),
    exp: fc.oneof(
      { weight: 5, arbitrary: fc.constant('future') },
      { weight: 2, arbitrary: fc.constantFrom('past', 'string', 'float') },
      { weight: 1, arbitrary: fc.integer({ min: -10, max: 10 }).map(String) },
    ),
    nbf: maybe(fc.constantFrom('future', 'past')),
    iat: maybe(fc.constantFrom('now', 'now', 'string')),
    pollute: fc.boolean(),
  });
  const origin = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom(...ALLOWED) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'https://app.example.com.evil.com',
        'https://APP.example.com',
        'https://app.example.com:443',
        'https://app.example.com/',
        'http://app.example.com',
        'null',
        'https://evil.example.com',
      ),
    },
  );
  const signature = mostly('valid', 'other-secret', 'empty', 'random');

  interface TokenCase {
    token: string;
    mustRefuse: boolean;
    mustAccept: boolean;
  }

  const tokenCase: fc.Arbitrary<TokenCase> = fc
    .tuple(headerArb, claimsArb, signature)
    .map(([header, claims, sig]) => {
      const t = now();
      const exp =
        claims.exp === 'future'
          ? t + 300
          : claims.exp === 'past'
            ? t - 300
            : claims.exp === 'string'
              ? 'tomorrow'
              : claims.exp === 'float'
                ? t + 300.5
                : t + Number(claims.exp) * 60;
      const payload: Record<string, unknown> = { sub: claims.sub, team: claims.team, exp };
      if (claims.name !== undefined) payload['name'] = claims.name;
      if (claims.nbf !== undefined) payload['nbf'] = claims.nbf === 'future' ? t + 300 : t - 300;
      if (claims.iat !== undefined) payload['iat'] = claims.iat === 'now' ? t : 'now';
      // A literal "__proto__" member, as an attacker would write it.
      const json = JSON.stringify(payload);
      const body = claims.pollute ? json.replace(/^\{/, '{"__proto__":{"polluted":true},') : json;
      const input = `${b64(header)}.${Buffer.from(body).toString('base64url')}`;
      const signed =
        sig === 'valid'
          ? sign(input, SECRET)
          : sig === 'other-secret'
            ? sign(input, `${SECRET}-other`)
            : sig === 'empty'
              ? ''
              : randomBytes(32).toString('base64url');
      const fresh = typeof exp === 'number' && exp > t + 5;
      const matches =
        claims.sub === 'u1' &&
        claims.team === 'A' &&
        (claims.name === undefined || claims.name === 'Ann');
      const plain =
        header.crit === undefined &&
        header.b64 === undefined &&
        (header.typ === undefined || header.typ === 'JWT') &&
        claims.nbf !== 'future' &&
        claims.iat !== 'string' &&
        typeof exp === 'number' &&
        Number.isInteger(exp);
      const signedRight = header.alg === 'HS256' && sig === 'valid';
      return {
        token: `${input}.${signed}`,
        // Never in without the secret's HS256 signature, the right user and team, and a live exp.
        mustRefuse: !signedRight || !matches || !(typeof exp === 'number' && exp > t - 5),
        mustAccept: signedRight && matches && fresh && plain,
      };
    });

  test(
    'a socket opens only with an HS256 token for its user and team that has not expired, from an allowed origin',
    async () => {
      await fc.assert(
        fc.asyncProperty(tokenCase, origin, async (c, from) => {
          counter.add('tokens');
          const url = `${authed.socketUrl}?${new URLSearchParams({
            id: 'u1',
            name: 'Ann',
            teamId: 'A',
            token: c.token,
          }).toString()}`;
          const outcome = await handshake(url, from === undefined ? {} : { origin: from });
          const originOk = from === undefined || ALLOWED.includes(from);
          counter.note(`token ${outcome.status}`);
          if (c.mustRefuse || !originOk) {
            expectRefusal(outcome, [401, 403]);
          } else if (c.mustAccept) {
            expect(outcome.status).toBe(101);
          } else {
            expect([101, 401]).toContain(outcome.status);
          }
          await expectNoConnections(authed);
        }),
        fcOptions(runs(1)),
      );
      await expectAliveWithToken();
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );

  test(
    'random strings as tokens are refused with 401',
    async () => {
      const token = fc
        .oneof(
          anyText.filter((s) => s.length > 0),
          fc
            .array(fc.base64String({ maxLength: 40 }), { minLength: 1, maxLength: 4 })
            .map((parts) => parts.join('.')),
          fc.constantFrom('.', '..', '...', 'e30.e30.', 'eyJhbGciOiJub25lIn0.e30.'),
        )
        .filter((t) => t.length > 0);
      await fc.assert(
        fc.asyncProperty(token, async (t) => {
          counter.add('random tokens');
          const url = `${authed.socketUrl}?${new URLSearchParams({ id: 'u1', name: 'Ann', teamId: 'A', token: t }).toString()}`;
          expectRefusal(await handshake(url), [401]);
        }),
        fcOptions(runs(1)),
      );
      await expectNoConnections(authed);
      expectNoPollution();
    },
    FUZZ_TIMEOUT,
  );
});

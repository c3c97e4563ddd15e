/**
 * Fuzzing the frames a connected client sends (docs/PROTOCOL.md §4) against a real server.
 *
 * Properties: every frame gets exactly one answer, in order, and the connection stays
 * open; a refusal is `bad_request` (never `internal`) and stores nothing; every
 * accepted message takes the next seq and reaches the rest of the team; frames over
 * MAX_MESSAGE_BYTES close with 1009 and invalid UTF-8 with 1007; nothing pollutes a
 * prototype; the server still answers afterwards.
 */
import fc from 'fast-check';
import { connect, type Frame, type TestClient } from '../helpers/client';
import { api, startTestServer, type TestServer } from '../helpers/server';
import {
  anyText,
  expectAlive,
  expectNoPollution,
  fcOptions,
  hostileKey,
  InputCounter,
  jsonTree,
  pollutingTree,
  runs,
  FUZZ_TIMEOUT,
  toJson,
  type JsonTree,
} from './fuzz-support';

const LIMIT = 4096;
/** Room for values nested tens of thousands of levels deep. */
const DEEP_LIMIT = 1024 * 1024;
const TEAM = 'fuzz';
const ID = /^[A-Za-z0-9_.:@-]{1,64}$/;

type Expect = 'ack' | 'error' | 'pong' | 'members' | 'history' | 'reply';

interface FrameCase {
  data: string | Uint8Array;
  binary: boolean;
  /** What the protocol says the answer is; `reply` when the frame may be either an ack or a refusal. */
  expect: Expect;
}

const text = (data: string, expect: Expect): FrameCase => ({ data, binary: false, expect });
const obj = (...entries: [string, JsonTree][]): string => toJson({ kind: 'object', entries });

const validId = fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,64}$/);
const invalidId = fc.oneof(
  anyText.filter((s) => !ID.test(s)),
  fc.constant(''),
  fc.constant('x'.repeat(65)),
);
const validRef = fc.string({ minLength: 1, maxLength: 64 });
const invalidRef = fc.oneof(
  fc.constant<JsonTree>(''),
  fc.string({ minLength: 65, maxLength: 80 }),
  fc.integer(),
  fc.constant(null),
  fc.constant<JsonTree>({ kind: 'array', items: [] }),
);
/** Extra members a valid frame may carry; zod drops them, the frame stays valid. */
const extras = fc.array(
  fc.tuple(
    hostileKey.filter((k) => !['type', 'data', 'ref', 'to', 'before', 'limit'].includes(k)),
    jsonTree,
  ),
  { maxLength: 3 },
);
const optional = <T>(key: string, arb: fc.Arbitrary<T>) =>
  fc.option(
    arb.map((v): [string, T] => [key, v]),
    { nil: undefined },
  );
const present = <T>(...entries: (T | undefined)[]): T[] =>
  entries.filter((e): e is T => e !== undefined);

const validFrame: fc.Arbitrary<FrameCase> = fc.oneof(
  fc
    .tuple(jsonTree, optional('ref', validRef), extras)
    .map(([data, ref, more]) =>
      text(obj(['type', 'team'], ['data', data], ...present(ref), ...more), 'ack'),
    ),
  fc
    .tuple(validId, jsonTree, optional('ref', validRef), extras)
    .map(([to, data, ref, more]) =>
      text(obj(['type', 'direct'], ['to', to], ['data', data], ...present(ref), ...more), 'ack'),
    ),
  extras.map((more) => text(obj(['type', 'ping'], ...more), 'pong')),
  extras.map((more) => text(obj(['type', 'presence'], ...more), 'members')),
  fc
    .tuple(
      optional('before', fc.nat()),
      optional('limit', fc.integer({ min: 1, max: 100_000 })),
      extras,
    )
    .map(([before, limit, more]) =>
      text(
        obj(['type', 'history'], ...present<[string, JsonTree]>(before, limit), ...more),
        'history',
      ),
    ),
  // Text that cannot open a JSON object is a team message whatever it holds.
  anyText.filter((s) => !s.trimStart().startsWith('{')).map((s) => text(s, 'ack')),
  fc
    .tuple(jsonTree, fc.array(fc.tuple(anyKey(), jsonTree), { maxLength: 4 }))
    .map(([type, entries]) => {
      // An object without a string `type` is a team message too.
      const kept = entries.filter(([k]) => k !== 'type');
      const t: [string, JsonTree][] = typeof type === 'string' ? [] : [['type', type]];
      return text(obj(...kept, ...t), 'ack');
    }),
  pollutingTree.map((tree) => text(obj(['type', 'team'], ['data', tree]), 'ack')),
  pollutingTree.map((tree) => text(toJson(tree), 'ack')),
);

function anyKey(): fc.Arbitrary<string> {
  return fc.oneof(hostileKey, fc.string({ maxLength: 8 }));
}

const KNOWN = ['team', 'direct', 'presence', 'history', 'ping'];

const invalidFrame: fc.Arbitrary<FrameCase> = fc.oneof(
  fc
    .uint8Array({ maxLength: 200 })
    .map((data): FrameCase => ({ data, binary: true, expect: 'error' })),
  fc
    .string({ maxLength: 60 })
    .map((s) => `{${s}`)
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    })
    .map((s) => text(s, 'error')),
  anyText
    .filter((t) => !KNOWN.includes(t))
    .map((t) => text(obj(['type', t], ['data', 1]), 'error')),
  extras.map((more) => text(obj(['type', 'team'], ...more), 'error')),
  fc
    .tuple(jsonTree, invalidRef)
    .map(([data, ref]) => text(obj(['type', 'team'], ['data', data], ['ref', ref]), 'error')),
  fc
    .tuple(invalidId, jsonTree)
    .map(([to, data]) => text(obj(['type', 'direct'], ['to', to], ['data', data]), 'error')),
  fc.tuple(jsonTree).map(([data]) => text(obj(['type', 'direct'], ['data', data]), 'error')),
  validId.map((to) => text(obj(['type', 'direct'], ['to', to]), 'error')),
  fc
    .constantFrom<JsonTree>(0, -1, 1.5, '5', null, true, { kind: 'array', items: [] })
    .map((limit) => text(obj(['type', 'history'], ['limit', limit]), 'error')),
  fc
    .constantFrom<JsonTree>(-1, 0.5, 'x', null, 2 ** 60)
    .map((before) => text(obj(['type', 'history'], ['before', before]), 'error')),
);

const randomFrame: fc.Arbitrary<FrameCase> = fc.oneof(
  anyText.map((s) => text(s, 'reply')),
  fc.string({ unit: 'binary', maxLength: 400 }).map((s) => text(s, 'reply')),
  jsonTree.map((tree) => text(toJson(tree), 'reply')),
  fc
    .tuple(fc.constantFrom(...KNOWN), fc.array(fc.tuple(anyKey(), jsonTree), { maxLength: 4 }))
    .map(([type, entries]) => text(obj(['type', type], ...entries), 'reply')),
);

const frameCase = fc.oneof(
  { weight: 3, arbitrary: validFrame },
  { weight: 3, arbitrary: invalidFrame },
  { weight: 2, arbitrary: randomFrame },
);

let server: TestServer;
let sender: TestClient;
let watcher: TestClient;
const counter = new InputCounter();
/** The team's seq as the acks tell it. */
let lastSeq = 0;
const acksByRef = new Map<string, { id: string; seq: number }>();

beforeAll(async () => {
  server = await startTestServer({
    RATE_LIMIT_PER_S: '0',
    MAX_CONNECTIONS_PER_IP: '0',
    MAX_MESSAGE_BYTES: String(LIMIT),
    LOG_LEVEL: 'warn',
  });
  watcher = await connect(server.socketUrl, { id: 'watcher', teamId: TEAM });
  sender = await connect(server.socketUrl, { id: 'fuzzer', teamId: TEAM });
  await watcher.next('presence');
});

afterAll(async () => {
  counter.report('socket-frames');
  await sender?.close();
  await watcher?.close();
  await server?.close();
});

/** Whether the frame, as sent, is a direct message (only those skip the watcher). */
function isDirect(c: FrameCase): boolean {
  if (c.binary) return false;
  try {
    const v = JSON.parse(c.data as string) as unknown;
    return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'direct';
  } catch {
    return false;
  }
}

function send(client: TestClient, c: FrameCase): void {
  client.ws.send(c.data, { binary: c.binary });
}

/** The next frame that answers a request (skips deliveries and presence events). */
async function nextAnswer(client: TestClient): Promise<Frame> {
  for (;;) {
    const frame = await client.next();
    if (frame.type !== 'message' && frame.type !== 'presence') return frame;
  }
}

async function teamHead(teamId: string, on: TestServer = server): Promise<number> {
  const res = await api<{ messages: { seq: number }[] }>(
    on,
    'GET',
    `/api/teams/${teamId}/messages?limit=1`,
  );
  expect(res.status).toBe(200);
  return res.body.messages.at(-1)?.seq ?? 0;
}

describe('socket frames', () => {
  test(
    'every frame gets one answer, refusals store nothing, accepted messages reach the team',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(frameCase, { minLength: 1, maxLength: 40, size: 'max' }),
          async (cases) => {
            const watched = watcher.frames.length;
            for (const c of cases) send(sender, c);
            sender.send({ type: 'ping' });
            counter.add('frames', cases.length);

            const accepted = new Set<string>();
            const delivered = new Set<string>();
            for (const c of cases) {
              const answer = await nextAnswer(sender);
              // A random frame may happen to be a valid ping, presence or history request.
              const allowed =
                c.expect === 'reply' ? ['ack', 'error', 'pong', 'members', 'history'] : [c.expect];
              if (!allowed.includes(answer.type)) {
                throw new Error(
                  `frame ${JSON.stringify(c.binary ? [...(c.data as Uint8Array)] : c.data)} ` +
                    `expected ${allowed.join('|')}, got ${JSON.stringify(answer)}`,
                );
              }
              if (answer.type === 'error') expect(answer['code']).toBe('bad_request');
              if (answer.type !== 'ack') continue;
              const ack = { id: answer['id'] as string, seq: answer['seq'] as number };
              const ref = answer['ref'] as string | undefined;
              const first = ref === undefined ? undefined : acksByRef.get(ref);
              if (first) {
                // The same ref again: the first ack, nothing published.
                expect(ack).toEqual(first);
                continue;
              }
              if (ref !== undefined) acksByRef.set(ref, ack);
              expect(ack.seq).toBe(lastSeq + 1);
              lastSeq = ack.seq;
              accepted.add(ack.id);
              if (!isDirect(c)) delivered.add(ack.id);
            }
            expect((await nextAnswer(sender)).type).toBe('pong');
            expect(sender.closed).toBeUndefined();

            // Deliveries happen before the ack: after a round trip the watcher holds them all.
            await watcher.sync();
            const seen = watcher.frames
              .slice(watched)
              .filter((f) => f.type === 'message')
              .map((m) => m['id'] as string);
            // Only what was accepted in this batch, and every team message of it, once.
            for (const id of seen) expect(accepted.has(id)).toBe(true);
            expect(seen.filter((id) => delivered.has(id)).sort()).toEqual([...delivered].sort());
            expect(await teamHead(TEAM)).toBe(lastSeq);
            expectNoPollution();
          },
        ),
        fcOptions(runs(1)),
      );
    },
    FUZZ_TIMEOUT,
  );

  test(
    'frames around MAX_MESSAGE_BYTES: answered at or under it, closed with 1009 over it',
    async () => {
      let client = await connect(server.socketUrl, { id: 'sizer', teamId: 'fuzz-size' });
      let seq = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: LIMIT - 200, max: LIMIT + 200 }),
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
          async (bytes, unit) => {
            // Plain text that cannot open an object; multi-byte units land on both sides of the limit.
            let data = `m${unit}`;
            while (Buffer.byteLength(data) < bytes) data += unit;
            const size = Buffer.byteLength(data);
            client.ws.send(data);
            counter.add('sized frames');
            if (size <= LIMIT) {
              const ack = await nextAnswer(client);
              expect(ack.type).toBe('ack');
              expect(ack['seq']).toBe(++seq);
            } else {
              expect((await client.waitClose()).code).toBe(1009);
              client = await connect(server.socketUrl, { id: 'sizer', teamId: 'fuzz-size' });
            }
            expect(await teamHead('fuzz-size')).toBe(seq);
          },
        ),
        fcOptions(runs(0.5)),
      );
      await client.close();
    },
    FUZZ_TIMEOUT,
  );

  test(
    'text frames of arbitrary bytes: valid UTF-8 is answered, invalid UTF-8 closes with 1007',
    async () => {
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const isUtf8 = (b: Uint8Array) => {
        try {
          decoder.decode(b);
          return true;
        } catch {
          return false;
        }
      };
      const invalidSequence = fc.constantFrom(
        [0xc3, 0x28],
        [0xa0, 0xa1],
        [0xe2, 0x28, 0xa1],
        [0xf0, 0x28, 0x8c, 0xbc],
        [0xc0, 0x80],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0xff],
        [0xe6, 0xb6],
      );
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc
          .tuple(
            fc.string({ unit: 'grapheme', maxLength: 10 }),
            invalidSequence,
            fc.uint8Array({ maxLength: 8 }),
          )
          .map(([prefix, bad, rest]) =>
            Uint8Array.from([...Buffer.from(`x${prefix}`), ...bad, ...rest]),
          ),
      );
      let client = await connect(server.socketUrl, { id: 'bytes', teamId: 'fuzz-utf8' });
      let seq = 0;
      await fc.assert(
        fc.asyncProperty(bytes, async (data) => {
          client.ws.send(data, { binary: false });
          counter.add('raw text frames');
          if (isUtf8(data)) {
            const answer = await nextAnswer(client);
            expect(['ack', 'error']).toContain(answer.type);
            if (answer.type === 'error') expect(answer['code']).toBe('bad_request');
            else expect(answer['seq']).toBe(++seq);
          } else {
            expect((await client.waitClose()).code).toBe(1007);
            client = await connect(server.socketUrl, { id: 'bytes', teamId: 'fuzz-utf8' });
          }
          expect(await teamHead('fuzz-utf8')).toBe(seq);
        }),
        fcOptions(runs(0.5)),
      );
      await client.close();
    },
    FUZZ_TIMEOUT,
  );

  test(
    'large values and many members are stored and delivered whole',
    async () => {
      const a = await connect(server.socketUrl, { id: 'big-a', teamId: 'fuzz-big' });
      const b = await connect(server.socketUrl, { id: 'big-b', teamId: 'fuzz-big' });
      await a.next('presence');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc
              .tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.integer({ min: 100, max: 600 }))
              .map(([s, n]): JsonTree => s.repeat(n)),
            fc
              .array(fc.tuple(fc.string({ maxLength: 6 }), fc.integer()), {
                minLength: 50,
                maxLength: 250,
              })
              .map((entries): JsonTree => ({ kind: 'object', entries })),
            fc
              .array(fc.integer(), { minLength: 100, maxLength: 500 })
              .map((items): JsonTree => ({ kind: 'array', items })),
          ),
          async (data) => {
            const frame = obj(['type', 'team'], ['data', data]);
            fc.pre(Buffer.byteLength(frame) <= LIMIT);
            b.ws.send(frame);
            counter.add('large values');
            const ack = await nextAnswer(b);
            expect(ack.type).toBe('ack');
            const got = await a.next('message');
            expect(got['id']).toBe(ack['id']);
            expect(got['data']).toEqual((JSON.parse(frame) as { data: unknown }).data);
          },
        ),
        fcOptions(runs(0.5)),
      );
      await a.close();
      await b.close();
    },
    FUZZ_TIMEOUT,
  );

  test('afterwards: no internal errors counted, the server answers, no prototype was touched', async () => {
    const metrics = await api<string>(server, 'GET', '/metrics');
    expect(metrics.body).not.toMatch(/switchboard_frames_rejected_total\{code="internal"\} [1-9]/);
    await expectAlive(server);
    expectNoPollution();
  });
});

describe('deep values', () => {
  /**
   * Deeply nested data must be refused with bad_request or stored and served like any
   * other message. Today it is acked and stored, and then JSON.stringify overflows the
   * stack on every read of it: teammates never get it, history answers `internal`,
   * GET .../messages answers 500 and a resume over it is closed with 1011.
   */
  test(
    'deeply nested data is refused or served, never stored unreadable',
    async () => {
      const big = await startTestServer({
        RATE_LIMIT_PER_S: '0',
        MAX_MESSAGE_BYTES: String(DEEP_LIMIT),
        LOG_LEVEL: 'silent',
      });
      let team = 0;
      await fc
        .assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 100_000 }),
            fc.constantFrom('[', '{"a":'),
            async (depth, open) => {
              const close = open === '[' ? ']' : '}';
              const data = `${open.repeat(depth)}${close.repeat(depth)}`;
              const frame = `{"type":"team","data":${data}}`;
              fc.pre(Buffer.byteLength(frame) <= DEEP_LIMIT);
              const teamId = `fuzz-deep-${++team}`;
              const a = await connect(big.socketUrl, { id: 'deep-a', teamId });
              const b = await connect(big.socketUrl, { id: 'deep-b', teamId });
              try {
                await a.next('presence');
                b.ws.send(frame);
                counter.add('deep values');
                const answer = await nextAnswer(b);
                expect(['ack', 'error']).toContain(answer.type);
                if (answer.type === 'error') {
                  expect(answer['code']).toBe('bad_request');
                  expect(await teamHead(teamId, big)).toBe(0);
                  return;
                }
                // The memory engine delivers before it acks: one round trip is enough to know.
                await a.sync();
                expect(a.frames.filter((f) => f.type === 'message').map((f) => f['id'])).toEqual([
                  answer['id'],
                ]);
                b.send({ type: 'history' });
                expect((await nextAnswer(b)).type).toBe('history');
                const rest = await api(big, 'GET', `/api/teams/${teamId}/messages`);
                expect(rest.status).toBe(200);
              } finally {
                await a.close();
                await b.close();
              }
            },
          ),
          fcOptions(runs(0.25)),
        )
        .finally(() => big.close());
    },
    FUZZ_TIMEOUT,
  );
});

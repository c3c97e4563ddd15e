/**
 * Shared pieces of the fuzz suites: the run budget, an input counter, JSON trees
 * that can hold keys such as `__proto__` literally, and the invariants checked
 * after every property (the server still answers, nothing polluted a prototype).
 */
import { connect as netConnect } from 'node:net';
import fc from 'fast-check';
import { connect } from '../helpers/client';
import { api, type TestServer } from '../helpers/server';

/**
 * Runs per property. The default keeps the whole fuzz suite well under 30 s in CI;
 * `npm run fuzz` raises it so that a full run generates more than 100,000 inputs.
 */
export const FUZZ_RUNS = (() => {
  const raw = process.env['FUZZ_RUNS'];
  if (raw === undefined || raw === '') return 40;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a whole number >= 1`);
  return n;
})();

/** Runs for a property whose single run is costlier than a frame (a new socket, a request). */
export function runs(weight = 1): number {
  return Math.max(5, Math.round(FUZZ_RUNS * weight));
}

/** fast-check options: the run count, and a seed from FUZZ_SEED to replay a failure. */
export function fcOptions<T>(numRuns: number): fc.Parameters<T> {
  const seed = process.env['FUZZ_SEED'];
  return {
    numRuns,
    ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
    // Counterexamples of huge inputs are unreadable in full.
    includeErrorInReport: true,
  };
}

/** Inputs sent to the server by a suite; printed once at the end, for docs/RELIABILITY.md. */
export class InputCounter {
  private readonly counts = new Map<string, number>();
  /** Outcomes worth knowing (how many inputs were accepted), not counted as inputs. */
  private readonly outcomes = new Map<string, number>();

  note(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  add(property: string, n = 1): void {
    this.counts.set(property, (this.counts.get(property) ?? 0) + n);
  }

  get total(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** One line on stderr per suite: `fuzz <suite>: <total> inputs (<property> <n>, ...)`. */
  report(suite: string): void {
    const parts = [...this.counts].map(([name, n]) => `${name} ${n}`).join(', ');
    const seen = [...this.outcomes].map(([name, n]) => `${name} ${n}`).join(', ');
    const outcomes = seen === '' ? '' : `; outcomes: ${seen}`;
    process.stderr.write(
      `fuzz ${suite}: ${this.total} inputs (${parts})${outcomes}; FUZZ_RUNS=${FUZZ_RUNS}\n`,
    );
  }
}

/** A JSON value as a tree, so that keys like `__proto__` survive into the text verbatim. */
export type JsonTree =
  | null
  | boolean
  | number
  | string
  | { kind: 'array'; items: JsonTree[] }
  | { kind: 'object'; entries: [string, JsonTree][] };

/** Serializes a tree; duplicate keys and `__proto__` keys are written as they are. */
export function toJson(tree: JsonTree): string {
  if (tree === null || typeof tree === 'boolean') return String(tree);
  if (typeof tree === 'number') return Number.isFinite(tree) ? JSON.stringify(tree) : '0';
  if (typeof tree === 'string') return JSON.stringify(tree);
  if (tree.kind === 'array') return `[${tree.items.map(toJson).join(',')}]`;
  return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
}

/** Keys that attack object handling, mixed with the protocol's own field names. */
export const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'polluted',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'type',
  'data',
  'ref',
  'to',
  'from',
  'id',
  'name',
);

export const anyKey = fc.oneof(
  { weight: 2, arbitrary: hostileKey },
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
);

/** Text of every kind: ASCII, any code point (lone surrogates included), graphemes. */
export const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

const leaf: fc.Arbitrary<JsonTree> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1e308, -1e-308, Number.MAX_SAFE_INTEGER + 2),
  anyText,
);

/** JSON trees up to a few levels deep, with hostile keys. */
export const jsonTree: fc.Arbitrary<JsonTree> = fc.letrec<{ tree: JsonTree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 5 }).map((items): JsonTree => ({ kind: 'array', items })),
    fc
      .array(fc.tuple(anyKey, tie('tree')), { maxLength: 5 })
      .map((entries): JsonTree => ({ kind: 'object', entries })),
  ),
})).tree;

/** Objects whose every level tries to reach a prototype. */
export const pollutingTree: fc.Arbitrary<JsonTree> = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), jsonTree)
  .map(([key, inner]): JsonTree => ({
    kind: 'object',
    entries: [
      [
        key,
        {
          kind: 'object',
          entries: [
            ['polluted', inner],
            ['prototype', { kind: 'object', entries: [['polluted', true]] }],
          ],
        },
      ],
      ['__proto__', { kind: 'object', entries: [['polluted', 'yes']] }],
    ],
  }));

const prototypes: [string, object][] = [
  ['Object', Object.prototype],
  ['Array', Array.prototype],
  ['Function', Function.prototype],
  ['String', String.prototype],
];
const baseline = new Map(prototypes.map(([name, proto]) => [name, Reflect.ownKeys(proto).length]));

/**
 * No prototype was polluted. The test servers run in this process, so this checks
 * the server's prototypes as well as the test's.
 */
export function expectNoPollution(): void {
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>)['polluted']).toBeUndefined();
  for (const [name, proto] of prototypes) {
    expect(`${name}: ${Reflect.ownKeys(proto).length}`).toBe(`${name}: ${baseline.get(name)}`);
  }
}

/** The server still answers: /api/health is 200 and a fresh socket gets a pong. */
export async function expectAlive(server: TestServer): Promise<void> {
  const health = await api(server, 'GET', '/api/health', { token: null });
  expect(health.status).toBe(200);
  const client = await connect(server.socketUrl, { id: 'alive-check', teamId: 'alive-check' });
  await client.sync();
  await client.close();
}

/** Any text that carries a stack trace or a source path. */
export const LEAK = /\n\s+at |\bat [\w.<>]+ \(|\/work\/|node_modules|\.ts:\d+|\.js:\d+/;

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/**
 * Writes bytes to the server over plain TCP and reads the status line, the head and
 * what follows until the answer is complete, the server closes or `waitMs` passes
 * (a cap for a loaded machine, not a speed bound: a complete answer ends it at
 * once). For inputs an HTTP client refuses to send (raw bytes in the request line
 * or headers).
 */
export function rawExchange(port: number, request: Buffer, waitMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({
        status: match ? Number(match[1]) : 0,
        head,
        body: end === -1 ? '' : text.slice(end + 4),
      });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      // A 101 keeps the socket open: the head is all there is to read. Keep-alive
      // answers are complete once their declared body has arrived.
      if (/^HTTP\/1\.1 101/.test(text)) return finish();
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (length && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1])) finish();
      if (/\r\ntransfer-encoding: *chunked/i.test(text.slice(0, end)) && text.endsWith('0\r\n\r\n'))
        finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset a connection it refused mid-request: that is an answer.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish();
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.write(request);
  });
}

/** Jest timeout of one fuzz test: a bound that grows with the run count, not a speed claim. */
export const FUZZ_TIMEOUT = 120_000 + FUZZ_RUNS * 200;

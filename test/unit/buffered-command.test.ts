import fc from 'fast-check';
import { Command } from 'ioredis';
import { BufferedCommand, TextHint, encodeCommand } from '../../services/redis/buffered-command';

/** FUZZ_RUNS scales this as it does the fuzz suites'; FUZZ_SEED replays a failure. */
const RUNS = Number(process.env['FUZZ_RUNS'] || 200);
const seed = process.env['FUZZ_SEED'];
const options = {
  numRuns: RUNS,
  ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
};

/** What ioredis's own writer sends for the command, as bytes. */
function ioredisBytes(name: string, args: (string | number | Buffer)[]): Buffer {
  const written = new Command(name, args).toWritable({});
  return Buffer.isBuffer(written) ? written : Buffer.from(written, 'utf8');
}

const arg = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: -1_000_000, max: 1_000_000_000 }),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
);

describe('BufferedCommand', () => {
  test('writes the bytes ioredis writes, for any arguments', () => {
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 30 }), (args) => {
        const ours = new BufferedCommand('eval', args).toWritable();
        expect(ours.equals(ioredisBytes('eval', args))).toBe(true);
      }),
      options,
    );
  });

  test('lengths that change the digit count, and an empty command', () => {
    for (const length of [0, 9, 10, 99, 100, 999, 1000, 65_536]) {
      const args = ['é'.repeat(length), 'x'.repeat(length)];
      expect(encodeCommand('evalsha', args).equals(ioredisBytes('evalsha', args))).toBe(true);
    }
    expect(encodeCommand('ping', []).toString()).toBe('*1\r\n$4\r\nping\r\n');
  });

  test('ASCII arguments, and one non-ASCII character among them, anywhere', () => {
    const ascii = ['{"id":"a","seq":', ',"teamId":"t"}', 'o|t|f', 12, '', 'x'.repeat(300)];
    expect(encodeCommand('evalsha', ascii).equals(ioredisBytes('evalsha', ascii))).toBe(true);
    // A lone surrogate is written as U+FFFD (three bytes), a pair as four bytes.
    for (const odd of ['é', '\u{1F600}', '\uD800', '\u0080', '\u00FF']) {
      for (let at = 0; at < ascii.length; at++) {
        const args = [...ascii];
        args[at] = `${String(args[at])}${odd}`;
        expect(encodeCommand('evalsha', args).equals(ioredisBytes('evalsha', args))).toBe(true);
      }
    }
  });

  test('with a hint, commands that are ASCII and commands that are not, in any order', () => {
    const hint = new TextHint();
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 12 }), (args) => {
        const ours = encodeCommand('evalsha', args, args.length + 1, hint);
        expect(ours.equals(ioredisBytes('evalsha', args))).toBe(true);
      }),
      options,
    );
    hint.ascii = true;
    encodeCommand('evalsha', ['é'], 2, hint);
    expect(hint.ascii).toBe(false);
    encodeCommand('evalsha', ['e', 1], 3, hint);
    expect(hint.ascii).toBe(true);
  });

  test('keys and hash slot as ioredis reads them from a script call', () => {
    const args = ['return 1', 2, '{team-a}:seq', '{team-a}:log', 'an argument'];
    const ours = new BufferedCommand('evalsha', args);
    const theirs = new Command('evalsha', args);
    expect(ours.getKeys()).toEqual(theirs.getKeys());
    expect(ours.getSlot()).toBe(theirs.getSlot());
    expect(new BufferedCommand('ping', []).getKeys()).toEqual([]);
  });

  test('a command sent again is the same Buffer', () => {
    const command = new BufferedCommand('eval', ['return 1', 0]);
    expect(command.toWritable()).toBe(command.toWritable());
  });
});

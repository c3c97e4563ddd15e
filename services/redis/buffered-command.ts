import { Command } from 'ioredis';

/**
 * A script call (EVAL, EVALSHA), or a command without keys, that writes itself as
 * one Buffer. ioredis's own Command copies and walks every argument when made, then
 * writes by joining five strings per argument and copying the joined text once
 * more: for the publish batch, thousands of arguments per call, that was about half
 * the garbage the publishing node made per message. This counts the bytes and
 * writes each argument once into a Buffer of that size, when made; the arguments
 * are not kept (only the keys, which Redis Cluster routes by), so they do not live
 * on until the reply. The same Buffer answers every call, so a command that ioredis
 * sends again (a redirection on Redis Cluster) is sent the same. Clients here set no
 * ioredis `keyPrefix` (RedisKeys prefixes keys), which this would not apply.
 */
export class BufferedCommand extends Command {
  protected readonly encoded: Buffer;
  private readonly scriptKeys: string[];

  constructor(name: string, args: Arg[], options?: CommandOptions, hint?: TextHint) {
    super(name, [], options);
    this.encoded = encodeCommand(name, args, args.length + 1, hint);
    // EVAL script numkeys key... arg...
    const numKeys = SCRIPT_CALLS.has(name.toLowerCase()) ? Number(args[1]) : 0;
    this.scriptKeys = Number.isSafeInteger(numKeys)
      ? args.slice(2, 2 + numKeys).map((key) => (Buffer.isBuffer(key) ? key.toString() : text(key)))
      : [];
  }

  override getKeys(): (string | Buffer)[] {
    return this.scriptKeys;
  }

  // The socket ioredis writes to does not change these bytes (ScriptCommand's do).
  override toWritable(_socket?: object): Buffer {
    return this.encoded;
  }
}

const SCRIPT_CALLS = new Set(['eval', 'evalsha']);

type CommandOptions = ConstructorParameters<typeof Command>[2];
type Arg = Command['args'][number];

/**
 * Whether the last command encoded with it was all ASCII. A caller whose commands
 * are mostly one or the other (a bus's publish batches) keeps one, so that a command
 * is encoded first the way the last one needed (encodeCommand).
 */
export class TextHint {
  ascii = true;
}

/**
 * The RESP array of bulk strings for `name` and `args` (what Redis reads a command
 * as). With `count` above their number, the start of a command of `count` words, the
 * rest to follow.
 *
 * Written as one text, each argument's length taken as its UTF-16 length, then
 * encoded in one call: asking each argument its UTF-8 length, then writing it (two
 * native calls per argument, with four arguments per message in a publish batch)
 * was most of the publishing node's encoding time. The text is as long in UTF-8 as in UTF-16
 * only when every character is ASCII (any other takes two bytes or more, a
 * surrogate pair four for its two units), and then those lengths are the byte
 * lengths; otherwise, and for Buffer arguments, each argument is measured
 * (encodeMeasured). That try costs a command that is not ASCII about half again
 * as much as measuring at once: after one, a `hint` has the next measured first,
 * until one turns out ASCII.
 */
export function encodeCommand(
  name: string,
  args: readonly Arg[],
  count: number = args.length + 1,
  hint?: TextHint,
): Buffer {
  if (hint?.ascii !== false) {
    const out = encodeAscii(name, args, count);
    if (out) return out;
  }
  const { out, ascii } = encodeMeasured(name, args, count);
  if (hint) hint.ascii = ascii;
  return out;
}

/** The command if it is all ASCII text, else undefined. */
function encodeAscii(name: string, args: readonly Arg[], count: number): Buffer | undefined {
  let resp = `*${count}\r\n$${name.length}\r\n${name}\r\n`;
  for (const arg of args) {
    if (Buffer.isBuffer(arg)) return undefined;
    const value = text(arg);
    resp += `$${value.length}\r\n${value}\r\n`;
  }
  const out = Buffer.from(resp, 'utf8');
  return out.length === resp.length ? out : undefined;
}

/** Each argument measured, then written; `ascii`: no Buffer, and every byte length its length. */
function encodeMeasured(
  name: string,
  args: readonly Arg[],
  count: number,
): { out: Buffer; ascii: boolean } {
  const words = args.length + 1;
  const lengths = new Int32Array(words);
  let total = 1 + digits(count) + 2;
  let ascii = true;
  for (let i = 0; i < words; i++) {
    const arg = i === 0 ? name : args[i - 1];
    const bytes = byteLength(arg);
    if (Buffer.isBuffer(arg) || bytes !== text(arg).length) ascii = false;
    lengths[i] = bytes;
    total += 1 + digits(bytes) + 2 + bytes + 2;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  out[at++] = 0x2a; // *
  at = writeDigits(out, at, count);
  at = crlf(out, at);
  for (let i = 0; i < words; i++) {
    const arg = i === 0 ? name : args[i - 1];
    const bytes = lengths[i] ?? 0;
    out[at++] = 0x24; // $
    at = writeDigits(out, at, bytes);
    at = crlf(out, at);
    if (Buffer.isBuffer(arg)) at += arg.copy(out, at);
    else at += out.write(text(arg), at, bytes, 'utf8');
    at = crlf(out, at);
  }
  return { out, ascii };
}

function text(arg: Arg): string {
  return typeof arg === 'string' ? arg : String(arg);
}

function byteLength(arg: Arg): number {
  return Buffer.isBuffer(arg) ? arg.length : Buffer.byteLength(text(arg));
}

function digits(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

function writeDigits(out: Buffer, at: number, n: number): number {
  const end = at + digits(n);
  for (let i = end - 1; i >= at; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

function crlf(out: Buffer, at: number): number {
  out[at] = 0x0d;
  out[at + 1] = 0x0a;
  return at + 2;
}

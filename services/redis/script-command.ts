import { createHash } from 'node:crypto';
import { BufferedCommand, encodeCommand } from './buffered-command';
import { RedisReplyError } from './errors';

/**
 * A Lua script that is sent by its hash (EVALSHA) on a connection where Redis has
 * shown it holds the script, and with its whole text (EVAL) on any other. The text
 * is most of a small publish batch's bytes, and Redis hashes it on every EVAL: by
 * hash the masters spent about a third less CPU per message.
 *
 * Proof is a script call that answered on that socket: Redis caches a script when
 * it first runs and keeps it for its lifetime, and a restarted Redis, or the new
 * master after a failover, is always reached on a new socket, so a new socket starts
 * with EVAL again. Writing alone proves nothing: an EVAL refused before it ran (a
 * MOVED, a Redis still loading) caches nothing. What breaks the proof without a new
 * socket, SCRIPT FLUSH (or a Redis 8 evicting old EVAL scripts), is answered NOSCRIPT:
 * that call did not run, it fails as any refused call does (`unavailable`, see
 * sendKnowingOutcome), and the socket goes back to EVAL. Never sent again by itself,
 * as ioredis's defineCommand would: behind calls written after it, it would run out
 * of order.
 */
export class SocketScript {
  readonly sha: string;
  private readonly answered = new WeakSet<object>();

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  isLoadedOn(socket: object): boolean {
    return this.answered.has(socket);
  }

  answeredOn(socket: object): void {
    this.answered.add(socket);
  }

  missingOn(socket: object): void {
    this.answered.delete(socket);
  }
}

type Arg = ConstructorParameters<typeof BufferedCommand>[1][number];

/**
 * A call of a SocketScript, bytes made once (see BufferedCommand) as EVALSHA; the
 * EVAL bytes are made only when a socket needs them. `args` are EVALSHA's: the sha,
 * numkeys, keys, then ARGV (the caller puts the sha first so that thousands of
 * arguments are not copied into a new array here).
 */
export class ScriptCommand extends BufferedCommand {
  /** The socket last written to: the one that answers (see sendKnowingOutcome). */
  private socket: object | undefined;
  private withText: Buffer | undefined;
  private readonly words: number;

  constructor(
    private readonly script: SocketScript,
    args: Arg[],
    options?: ConstructorParameters<typeof BufferedCommand>[2],
  ) {
    if (args[0] !== script.sha) throw new Error("a script call's first argument is its sha");
    super('evalsha', args, options);
    this.words = args.length + 1;
    const resolve = this.resolve;
    this.resolve = (result: unknown) => {
      if (this.socket) script.answeredOn(this.socket);
      resolve(result);
    };
    const reject = this.reject;
    this.reject = (err: Error) => {
      if (this.socket && isNoScript(err)) script.missingOn(this.socket);
      reject(err);
    };
  }

  override toWritable(socket: object): Buffer {
    this.socket = socket;
    if (this.script.isLoadedOn(socket)) return this.encoded;
    this.withText ??= Buffer.concat([
      encodeCommand('eval', [this.script.lua], this.words),
      this.encoded.subarray(encodeCommand('evalsha', [this.script.sha], this.words).length),
    ]);
    return this.withText;
  }
}

function isNoScript(err: Error): boolean {
  return err instanceof RedisReplyError && err.message.startsWith('NOSCRIPT');
}

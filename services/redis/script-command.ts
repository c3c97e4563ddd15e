import { createHash } from 'node:crypto';
import { BufferedCommand, TextHint, encodeCommand } from './buffered-command';
import { RedisReplyError } from './errors';

/**
 * A Lua script that is sent by its hash (EVALSHA) on a connection where Redis has
 * shown it holds the script, and with its whole text (EVAL) on any other. The text
 * is most of a small publish batch's bytes, and Redis hashes it on every EVAL: for
 * a call of one message that was about 40 % of redis-server's CPU.
 *
 * Proof is a script call that answered on that socket: Redis caches a script when
 * it first runs and keeps it for its lifetime, and a restarted Redis, or the new
 * master after a failover, is always reached on a new socket, so a new socket starts
 * with EVAL again. Writing alone proves nothing: an EVAL refused before it ran (a
 * MOVED, a Redis still loading) caches nothing.
 *
 * What drops the script without a new socket, SCRIPT FLUSH (or a Redis 8 evicting
 * old EVAL scripts), is answered NOSCRIPT: that call did not run, and it is sent
 * again with the text (ScriptCommand.failed), together with every call written
 * behind it on the socket by hash, in write order. Those run before the resend, so
 * they fail the same way: the text is the caller's own (the publish script carries
 * its node's id), so no other client loads that hash meanwhile. Seqs then keep the
 * order of the sends.
 */
export class SocketScript {
  readonly sha: string;
  /** How its last call's arguments encoded: see encodeCommand. */
  readonly hint = new TextHint();
  private readonly answered = new WeakSet<object>();
  /** Per socket, the calls written on it by hash and not answered yet, in write order. */
  private readonly byHash = new WeakMap<object, Set<ScriptCommand>>();

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  isLoadedOn(socket: object): boolean {
    return this.answered.has(socket);
  }

  answeredOn(socket: object): void {
    this.answered.add(socket);
  }

  writtenByHash(socket: object, call: ScriptCommand): void {
    let calls = this.byHash.get(socket);
    if (!calls) {
      calls = new Set();
      this.byHash.set(socket, calls);
    }
    calls.add(call);
  }

  settled(socket: object, call: ScriptCommand): void {
    this.byHash.get(socket)?.delete(call);
  }

  /**
   * The script is gone from the socket's Redis: it gets the text from now on, and
   * the calls still in flight on it by hash, all written after the one that was
   * answered NOSCRIPT (answers come in order), are handed back: each will be answered
   * NOSCRIPT too.
   */
  missingOn(socket: object): ScriptCommand[] {
    this.answered.delete(socket);
    const calls = [...(this.byHash.get(socket) ?? [])];
    this.byHash.delete(socket);
    return calls;
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
  private byHash = false;
  private withText: Buffer | undefined;
  private readonly words: number;
  private resends = 0;
  /** NOSCRIPT answers still to come for tries that were already sent again. */
  private stale = 0;
  /** Writes the call again, set by whoever sent it (sendScriptKnowingOutcome). */
  resend: (() => void) | undefined;

  constructor(
    private readonly script: SocketScript,
    args: Arg[],
    options?: ConstructorParameters<typeof BufferedCommand>[2],
  ) {
    if (args[0] !== script.sha) throw new Error("a script call's first argument is its sha");
    super('evalsha', args, options, script.hint);
    this.words = args.length + 1;
    const resolve = this.resolve;
    this.resolve = (result: unknown) => {
      if (this.socket) {
        if (this.byHash) script.settled(this.socket, this);
        script.answeredOn(this.socket);
      }
      resolve(result);
    };
  }

  /** An answer to a try that was sent again already: to be dropped, not settled. */
  isStale(err: Error): boolean {
    if (this.stale === 0 || !isNoScript(err)) return false;
    this.stale--;
    return true;
  }

  /**
   * After a failure (not a stale one): whether the call was sent again. On NOSCRIPT
   * it is, at once, and so is every call written on that socket by hash after it, in
   * the order they were written, before anything else is written there: they would
   * have failed the same way, and sent again one by one as their answers come, a call
   * written meanwhile (after this one's resend had loaded the script) would run
   * before them. Twice at most: a resend goes as EVAL, which never answers NOSCRIPT,
   * unless the connection changed meanwhile.
   */
  failed(err: Error): boolean {
    const socket = this.socket;
    if (socket && this.byHash) this.script.settled(socket, this);
    if (!socket || !isNoScript(err)) return false;
    const behind = this.script.missingOn(socket);
    const again = this.resends < 2;
    if (again) this.sendAgain();
    for (const call of behind) {
      call.stale++;
      call.sendAgain();
    }
    return again;
  }

  private sendAgain(): void {
    this.resends++;
    this.resend?.();
  }

  override toWritable(socket: object): Buffer {
    this.socket = socket;
    this.byHash = this.script.isLoadedOn(socket);
    if (this.byHash) {
      this.script.writtenByHash(socket, this);
      return this.encoded;
    }
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

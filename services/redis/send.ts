import { BufferedCommand } from './buffered-command';
import type { RedisClient } from './connection';
import { AppError } from '../errors';
import { RedisReplyError, redisUnavailable } from './errors';
import { ScriptCommand, type SocketScript } from './script-command';

/**
 * Sends one script call (or a command without keys: see BufferedCommand) whose effect must be known when it fails, and maps a failure
 * to what it means for that effect:
 * - ioredis refuses, inside `sendCommand`, a command it cannot write (the client
 *   runs without an offline queue), or fails one it never wrote to any socket (a
 *   cluster client trying again while a node reconnects): it never reached Redis,
 *   `unavailable`;
 * - an error reply is Redis's answer: it did not run (the publish script catches
 *   its own per-message failures, so a reply error is the whole call refused),
 *   `unavailable`;
 * - any other failure comes after the write (command timeout, the connection
 *   closed while the command was in flight; `autoResendUnfulfilledCommands` is off,
 *   and a cluster client is kept from sending it on, below, so it is never sent
 *   twice): Redis may have run it, `indeterminate`.
 * Which case it is comes from when the command was rejected, not from the text of
 * ioredis's messages.
 *
 * `onWrite` hears of every socket the command is written to, the last one being
 * the connection that answered: a Redis Cluster client may send it on after a
 * MOVED or ASK redirection, and a replicated ack must ask that very connection.
 */
export function sendKnowingOutcome(
  redis: RedisClient,
  name: string,
  args: (string | number)[],
  onWrite?: (socket: object) => void,
): Promise<unknown> {
  // Written as one Buffer: see BufferedCommand.
  return sendCommand(redis, new BufferedCommand(name, args, { replyEncoding: 'utf8' }), onWrite);
}

/**
 * sendKnowingOutcome for a call of `script` (the publish batch): by hash where the
 * connection it is written on has the script, else with its text (SocketScript).
 * `args` are EVALSHA's, the script's sha first. A call answered NOSCRIPT did not
 * run: it is sent again at once, with the text (ScriptCommand.failed), and
 * `onResend` hears of it right after (a WAIT written behind the first try must be
 * written again behind this one).
 */
export function sendScriptKnowingOutcome(
  redis: RedisClient,
  script: SocketScript,
  args: (string | number)[],
  hooks: { onWrite?: (socket: object) => void; onResend?: () => void } = {},
): Promise<unknown> {
  return sendCommand(
    redis,
    new ScriptCommand(script, args, { replyEncoding: 'utf8' }),
    hooks.onWrite,
    hooks.onResend,
  );
}

/**
 * A call of `script` (args as sendScriptKnowingOutcome's) for a read, or a write
 * that is safe to repeat: NOSCRIPT is handled as there, any other failure is
 * passed on as it came, for redisCall to map. Written at once, not by ioredis's
 * auto-pipelining: a caller that wants a turn's calls in one write sends them
 * inside writeTogether (TurnWrites).
 */
export function sendScript(
  redis: RedisClient,
  script: SocketScript,
  args: (string | number)[],
): Promise<unknown> {
  return sendCommand(
    redis,
    new ScriptCommand(script, args, { replyEncoding: 'utf8' }),
    undefined,
    undefined,
    false,
  );
}

async function sendCommand(
  redis: RedisClient,
  command: BufferedCommand,
  onWrite: ((socket: object) => void) | undefined,
  onResend?: () => void,
  knowingOutcome = true,
): Promise<unknown> {
  const script = command instanceof ScriptCommand ? command : undefined;
  let sending = true;
  let refusedUnsent = false;
  // ioredis builds a command's bytes for the socket it writes them to, every time it
  // writes them, and no sooner (a command in a node's offline queue waits unbuilt).
  let written = false;
  const settle = command.reject;
  const reject = (err: Error) => {
    if (script?.isStale(err)) return;
    if (sending) refusedUnsent = true;
    else if (script?.failed(err)) return;
    settle(err);
  };
  command.reject = reject;
  const send = () => {
    sending = true;
    try {
      void redis.sendCommand(command);
    } finally {
      sending = false;
    }
  };
  if (script) {
    // Redis answered: it did not run. The same command object, so a cluster client's
    // redirection handling (installed once per command) still applies.
    script.resend = () => {
      written = false;
      send();
      onResend?.();
    };
  }
  const toWritable = command.toWritable.bind(command);
  command.toWritable = (socket: object) => {
    written = true;
    onWrite?.(socket);
    return toWritable(socket);
  };
  send();
  if (redis.isCluster) {
    // A Redis Cluster client wraps `reject` inside sendCommand to send the command on:
    // after MOVED/ASK/TRYAGAIN/CLUSTERDOWN (an answer: it did not run) and, after
    // `retryDelayOnFailover`, when its connection closed, even with the command
    // written and unanswered. Such a command may have run: fail it here instead of
    // letting it run twice. Unwritten commands and error replies go on as before.
    const sendOn = command.reject;
    command.reject = (err: Error) => {
      if (script?.isStale(err)) return;
      if (written && !(err instanceof RedisReplyError)) {
        reject(err);
        return;
      }
      // A reply is Redis's answer to that write: it did not run there.
      written = false;
      sendOn(err);
    };
  }
  if (!knowingOutcome) return command.promise;
  try {
    return await command.promise;
  } catch (err) {
    if (refusedUnsent || !written || err instanceof RedisReplyError) throw redisUnavailable(err);
    throw new AppError(
      'indeterminate',
      'the message backend did not answer in time; the message may have been stored: send it again with the same ref to learn which',
      { cause: err },
    );
  }
}

import { ReplyError } from 'ioredis';
import { BufferedCommand } from './buffered-command';
import type { RedisClient } from './connection';
import { AppError } from '../errors';
import { redisUnavailable } from './errors';

/** ioredis exports the class untyped; it is redis-errors' ReplyError, an Error subclass. */
const RedisReplyError = ReplyError as abstract new (...args: never[]) => Error;

/**
 * Sends one script call (or a command without keys: see BufferedCommand) whose effect must be known when it fails, and maps a failure
 * to what it means for that effect:
 * - ioredis refuses, inside `sendCommand`, a command it cannot write (the client
 *   runs without an offline queue): it never reached Redis, `unavailable`;
 * - an error reply is Redis's answer: it did not run (the publish script catches
 *   its own per-message failures, so a reply error is the whole call refused),
 *   `unavailable`;
 * - any other failure comes after the write (command timeout, the connection
 *   closed while the command was in flight; `autoResendUnfulfilledCommands` is off,
 *   so it is never sent twice): Redis may have run it, `indeterminate`.
 * Which case it is comes from when the command was rejected, not from the text of
 * ioredis's messages.
 *
 * `onWrite` hears of every socket the command is written to, the last one being
 * the connection that answered: a Redis Cluster client may send it on after a
 * MOVED or ASK redirection, and a replicated ack must ask that very connection.
 */
export async function sendKnowingOutcome(
  redis: RedisClient,
  name: string,
  args: (string | number)[],
  onWrite?: (socket: object) => void,
): Promise<unknown> {
  // Written as one Buffer: see BufferedCommand (the publish batch is the command sent here).
  const command = new BufferedCommand(name, args, { replyEncoding: 'utf8' });
  let sending = true;
  let refusedUnsent = false;
  const reject = command.reject;
  command.reject = (err: Error) => {
    if (sending) refusedUnsent = true;
    reject(err);
  };
  if (onWrite) {
    // ioredis builds a command's bytes for the socket it writes them to, every time it
    // writes them, and no sooner (a command in a node's offline queue waits unbuilt).
    const toWritable = command.toWritable.bind(command);
    command.toWritable = (socket: object) => {
      onWrite(socket);
      return toWritable(socket);
    };
  }
  try {
    void redis.sendCommand(command);
  } finally {
    sending = false;
  }
  try {
    return await command.promise;
  } catch (err) {
    if (refusedUnsent || err instanceof RedisReplyError) throw redisUnavailable(err);
    throw new AppError(
      'indeterminate',
      'the message backend did not answer in time; the message may have been stored: send it again with the same ref to learn which',
      { cause: err },
    );
  }
}

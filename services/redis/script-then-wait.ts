import type { Redis } from 'ioredis';
import type { AppError } from '../errors';
import { waitForReplicas } from './replicas';
import type { SocketScript } from './script-command';
import { sendScriptKnowingOutcome } from './send';

/** A publish call on one connection and the WAIT written behind it. */
export interface ScriptThenWait {
  /** The script's answer (sendScriptKnowingOutcome). */
  sent: Promise<unknown>;
  /** The answer of the WAIT behind the call that ran; undefined when `replicas` is 0. */
  replicated(): Promise<AppError | undefined> | undefined;
}

/**
 * Writes a call of `script` on `redis`, then `WAIT replicas` right behind it on the
 * same connection, so that the WAIT counts the replicas holding that call's writes
 * (waitForReplicas). A call answered NOSCRIPT is sent again with the text, and a
 * new WAIT behind it: the first counted nothing of the call that ran. Not awaited
 * before the answer: a call Redis refused needs no replicas. Call it inside
 * redisCall, as sendScriptKnowingOutcome.
 */
export function sendScriptThenWait(
  redis: Redis,
  script: SocketScript,
  args: (string | number)[],
  replicas: number,
  timeoutMs: number,
): ScriptThenWait {
  let replicated: Promise<AppError | undefined> | undefined;
  const wait = (): void => {
    replicated = waitForReplicas(redis, replicas, timeoutMs);
  };
  const sent = sendScriptKnowingOutcome(redis, script, args, {
    onResend: replicas > 0 ? wait : undefined,
  });
  if (replicas > 0) wait();
  return { sent, replicated: () => replicated };
}

import type { ChainableCommander } from 'ioredis';
import { redisUnavailable } from './errors';

/**
 * Runs a read, or a write that is safe to repeat, and turns any failure into
 * `unavailable` (redisUnavailable: our own AppErrors pass as they are). The
 * thunk, not a promise, so that a reply that fails to parse after the await is
 * mapped the same way. `onFailure` sees the failure first: to undo local state
 * the call had counted on, or to throw a more precise error of its own.
 * Publishes do not come here: they must tell "not sent" from "no answer" (send.ts).
 */
export async function redisCall<T>(
  work: () => Promise<T>,
  onFailure?: (err: unknown) => void,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    onFailure?.(err);
    throw redisUnavailable(err);
  }
}

/**
 * Runs a MULTI and gives its replies in order. `exec` reports a command's error
 * reply beside the others, and an aborted transaction as null: both are thrown
 * here, so a caller reads replies that are all there.
 */
export async function execAll(tx: ChainableCommander): Promise<unknown[]> {
  const results = await tx.exec();
  if (!results) throw new Error('transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, reply]) => reply);
}

import { AppError } from '../errors';

/**
 * For reads and for writes that are safe to repeat, any failure talking to Redis
 * (refused, offline queue off, timeout, reset) means the same thing to a client:
 * not done, retry. Only our own AppErrors pass. The publish path tells "not sent"
 * from "no answer" (send.ts), since `unavailable` promises nothing was stored.
 */
export function redisUnavailable(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('unavailable', 'message backend unavailable; retry', { cause: err });
}

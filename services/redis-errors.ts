import { AppError } from './errors';

/**
 * Any failure talking to Redis (refused, offline queue off, timeout, reset) means
 * the same thing to a client: not accepted, retry. Only our own AppErrors pass.
 */
export function redisUnavailable(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('unavailable', 'message backend unavailable; retry', { cause: err });
}

import { ReplyError } from 'ioredis';
import { AppError } from '../errors';

/** ioredis exports the class untyped; it is redis-errors' ReplyError, an Error subclass: Redis's own answer. */
export const RedisReplyError = ReplyError as abstract new (...args: never[]) => Error;

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

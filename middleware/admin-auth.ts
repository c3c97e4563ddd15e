import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { AppError } from '../services/errors';
import type { AppState } from './app-state';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time compare: hashing first makes both sides the same length. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` on every admin route. Paths for which
 * `isProtected` is false (the probes, the served pages) pass without it.
 */
export function adminAuth(
  token: string,
  isProtected: (path: string) => boolean,
): Middleware<AppState> {
  return async (ctx, next) => {
    if (!isProtected(ctx.path)) return next();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
    if (!match) throw new AppError('unauthorized', 'missing bearer token');
    if (!tokenMatches(match[1]!, token)) throw new AppError('unauthorized', 'invalid admin token');
    return next();
  };
}

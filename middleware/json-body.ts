import type { Middleware } from 'koa';
import { AppError } from '../services/errors';
import type { AppState } from './app-state';

/**
 * The media types the body parser reads as JSON (koa-bodyparser's own list): a
 * body of any other type would be skipped silently and the request would fail
 * validation with a message about missing fields, which misleads.
 */
export const JSON_TYPES = [
  'application/json',
  'application/json-patch+json',
  'application/vnd.api+json',
  'application/csp-report',
  'application/scim+json',
];

/** A request that carries a body that is not JSON gets 415, before the body is read. */
export function requireJsonBody(): Middleware<AppState> {
  return async (ctx, next) => {
    // is() is null without a body (no Content-Length, no chunked transfer); an empty
    // one (fetch sends Content-Length: 0 on a bare POST) has nothing to misread either.
    if (ctx.request.length !== 0 && ctx.request.is(JSON_TYPES) === false)
      throw new AppError('unsupported_media_type');
    return next();
  };
}

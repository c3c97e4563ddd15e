import type { Middleware } from 'koa';
import { AppError, toAppError } from '../services/errors';
import { CloseCode } from '../protocol/close-codes';
import type { AppState } from './app-state';

/**
 * The one place errors become answers: a JSON error with the catalogue's status on
 * HTTP, a 1011 close on a socket (koa-websocket would swallow the error otherwise).
 * Internal errors are logged with their stack and answered without it.
 */
export function errorMapper(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      if (!ctx.websocket && ctx.status === 404 && ctx.body == null) {
        throw new AppError('not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'internal') ctx.state.log.error({ err }, 'request failed');
      if (ctx.websocket) {
        ctx.websocket.close(CloseCode.internal, 'internal error');
        return;
      }
      ctx.status = error.status;
      ctx.body = { error: { code: error.code, message: error.message } };
      if (error.code === 'unauthorized') ctx.set('WWW-Authenticate', 'Bearer');
    }
  };
}

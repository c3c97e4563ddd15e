import type { Middleware } from 'koa';
import { CloseCode } from '../protocol/close-codes';
import type { AppState } from './app-state';

/** End of the socket chain: a socket no route took is closed, not left hanging. */
export function socketGuard(): Middleware<AppState> {
  return async (ctx) => {
    ctx.state.log.error({ path: ctx.path }, 'socket reached the end of the chain unhandled');
    ctx.websocket.close(CloseCode.internal, 'internal error');
  };
}

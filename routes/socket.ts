import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import type { AppState } from '../middleware/app-state';
import type { Handshake } from '../middleware/handshake';
import { Session, type SessionDeps } from '../services/socket/session';

export { ABUSE_THRESHOLD } from '../services/socket/session';

export interface SocketDeps extends SessionDeps {
  /** What createVerifyClient checked before the upgrade, keyed by the request. */
  handshakes: WeakMap<IncomingMessage, Handshake>;
}

/**
 * The `/socket` route: koa-websocket glue around a Session, which runs the
 * connection's life (services/socket/session.ts).
 */
export function socketRoute(deps: SocketDeps): Middleware<AppState> {
  return async (ctx) => {
    const handshake = deps.handshakes.get(ctx.req);
    if (!handshake) throw new Error('socket without a verified handshake');
    deps.handshakes.delete(ctx.req);
    // Only the socket and the handshake go on: the Koa context is dropped here.
    new Session(deps, ctx.websocket, handshake).run();
  };
}

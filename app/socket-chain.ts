import type { IncomingMessage, ServerResponse } from 'node:http';
import compose from 'koa-compose';
import type websockify from 'koa-websocket';
import type { Logger } from 'pino';
import type WebSocket from 'ws';

type SocketMiddleware<S> = websockify.Middleware<S>;
type SocketContext<S> = Parameters<SocketMiddleware<S>>[0];

/**
 * Runs the socket chain (`koa.ws.use`) as koa-websocket does, on a Koa context per
 * connection, but composes it once instead of on every connection (koa-websocket's
 * onConnection composes the list and wraps it in `co` each time, and parses the URL
 * with the legacy url.parse). Must be called before `koa.ws.listen`, which binds
 * onConnection; middleware added later is picked up on the next connection.
 */
export function composeSocketChainOnce<S>(app: websockify.App<S>, log: Logger): void {
  const server = app.ws;
  let chain: ((ctx: SocketContext<S>) => Promise<void>) | undefined;
  let composedFrom = 0;
  server.onConnection = (socket: WebSocket, req: IncomingMessage): void => {
    // As koa-websocket: a socket error is followed by 'close', which the session handles.
    socket.on('error', ignore);
    if (chain === undefined || composedFrom !== server.middleware.length) {
      chain = compose([...server.middleware]);
      composedFrom = server.middleware.length;
    }
    // koa-websocket passes no response either: a socket has none after the upgrade.
    // The context's `app` is this websockify app, which is what the cast states.
    const ctx = app.createContext<S>(req, NO_RESPONSE) as unknown as SocketContext<S>;
    ctx.websocket = socket;
    // ctx.path is left to Koa's getter, read only when something fails: ws accepted
    // the upgrade only for its `path` option, compared with the URL up to '?', which is
    // what the getter reads too. Setting it parsed the URL on every connection.
    chain(ctx).catch((err: unknown) => {
      // errorMapper answers every error after request-context; this is what escapes it.
      log.error({ err }, 'socket chain failed');
    });
  };
}

const NO_RESPONSE = undefined as unknown as ServerResponse;

function ignore(): void {}

import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from '../services/metrics';
import type { AppState } from './app-state';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Request id and access log, for both chains. Only the path is logged, never the
 * query string: socket URLs carry tokens there.
 */
export function requestContext(logger: Logger, metrics: Metrics): Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const given = REQUEST_ID.test(incoming) ? incoming : undefined;
    // Upgraded sockets have no response to decorate; the socket route logs their life.
    if (ctx.websocket) {
      ctx.state = new SocketState(logger, given);
      return next();
    }
    const requestId = given ?? randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ reqId: requestId });
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.observe({ method: ctx.method, status: String(ctx.status) }, seconds);
      ctx.state.log.info(
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(seconds * 1e4) / 10,
        },
        'request',
      );
    }
  };
}

/**
 * A socket's chain state. Its chain reads the id and the logger only when it fails
 * (the socket route logs with the connection's own id), so both are made on first
 * use: a UUID and a pino child per connection were a measurable share of a connect.
 */
class SocketState implements AppState {
  private id: string | undefined;
  private child: Logger | undefined;

  constructor(
    private readonly logger: Logger,
    given: string | undefined,
  ) {
    this.id = given;
  }

  get requestId(): string {
    this.id ??= randomUUID();
    return this.id;
  }

  get log(): Logger {
    this.child ??= this.logger.child({ reqId: this.requestId });
    return this.child;
  }
}

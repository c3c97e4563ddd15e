import type { Logger } from 'pino';

/** What every middleware may put on `ctx.state`, on the HTTP and the socket chain alike. */
export interface AppState {
  requestId: string;
  log: Logger;
}

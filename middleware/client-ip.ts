import type { IncomingMessage } from 'node:http';

/**
 * The client's address. `X-Forwarded-For` is believed only behind a trusted proxy
 * (TRUST_PROXY), the same rule Koa applies to `ctx.ip` with `app.proxy`.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

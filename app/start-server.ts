import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode } from '../protocol/close-codes';
import type { SwitchboardApp } from './create-app';

export interface RunningServer {
  server: Server;
  port: number;
  /** Drains and stops everything, in order; safe to call more than once. */
  close(): Promise<void>;
}

/** Sockets get this long to finish their close handshake before they are cut. */
const SOCKET_CLOSE_TIMEOUT_MS = 3000;

/** Pending connections the kernel may queue before accept (see the listen call). */
export const LISTEN_BACKLOG = 8192;

/** Listens (port 0 picks a free port) and owns the shutdown order. */
export async function startServer(
  app: SwitchboardApp,
  port: number,
  host?: string,
): Promise<RunningServer> {
  // Our own server rather than koa.listen: a slow or half-sent handshake must be cut
  // after HANDSHAKE_TIMEOUT_MS, checked every second, not after Node's 60-90 s.
  const timeout = app.config.http.handshakeTimeoutMs;
  const server = createServer(
    {
      headersTimeout: timeout,
      requestTimeout: Math.max(timeout, 30_000),
      connectionsCheckingInterval: Math.min(1000, timeout),
    },
    app.koa.callback(),
  );
  app.koa.ws.listen({ ...app.wsOptions, server });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
    // Node's default backlog (511) overflows when a restarted node's clients all come
    // back at once: the kernel drops the rest of the SYNs and their clients retry after
    // 1, 3, 7, 15 s... The kernel caps this at net.core.somaxconn.
    server.listen({ port, ...(host === undefined ? {} : { host }), backlog: LISTEN_BACKLOG });
  });
  app.hub.start();
  app.stats.start();
  const actualPort = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      app.startDraining();
      if (app.config.http.drainDelayMs > 0) {
        // Load balancers see /api/ready turn 503 and stop sending new clients.
        await new Promise((resolve) => setTimeout(resolve, app.config.http.drainDelayMs));
      }
      await app.hub.closeAll(CloseCode.goingAway, 'server shutting down', SOCKET_CLOSE_TIMEOUT_MS);
      await new Promise<void>((resolve) => app.koa.ws.server?.close(() => resolve()) ?? resolve());
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await app.closeServices();
    })();
    return closing;
  };
  return { server, port: actualPort, close };
}

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode } from '../services/hub';
import type { SwitchboardApp } from './create-app';

export interface RunningServer {
  server: Server;
  port: number;
  /** Drains and stops everything, in order; safe to call more than once. */
  close(): Promise<void>;
}

/** Sockets get this long to finish their close handshake before they are cut. */
const SOCKET_CLOSE_TIMEOUT_MS = 3000;

/** Listens (port 0 picks a free port) and owns the shutdown order. */
export async function startServer(
  app: SwitchboardApp,
  port: number,
  host?: string,
): Promise<RunningServer> {
  // koa-websocket's listen attaches the WebSocket server with the options given to createApp.
  const server = await new Promise<Server>((resolve, reject) => {
    const s: Server = host === undefined ? app.koa.listen(port) : app.koa.listen(port, host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  app.hub.start();
  const actualPort = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      app.startDraining();
      if (app.config.drainDelayMs > 0) {
        // Load balancers see /api/ready turn 503 and stop sending new clients.
        await new Promise((resolve) => setTimeout(resolve, app.config.drainDelayMs));
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

import { Socket } from 'node:net';
import type WebSocket from 'ws';

/**
 * The TCP socket under a `ws` WebSocket. ws keeps it in the undocumented `_socket`
 * field and has no public cork(); this is the one place that reaches for it, and it
 * checks what it finds, so a ws upgrade that renames the field fails loudly here.
 */
export function underlyingSocket(ws: WebSocket): Socket {
  const socket: unknown = Reflect.get(ws, '_socket');
  if (!(socket instanceof Socket))
    throw new Error('ws internals changed: no net.Socket at _socket');
  return socket;
}

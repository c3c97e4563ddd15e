import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/** How a raw ws server puts a frame on a socket. */
export interface FrameWriter {
  send(ws: WebSocket, socket: Socket, data: Buffer | string): void;
}

// ws sends a Buffer as a binary frame unless told otherwise: one shared options object.
const TEXT = { binary: false } as const;

/** One ws.send per frame: each frame is its own write (one syscall) on its socket. */
export function plainWriter(): FrameWriter {
  return {
    send(ws, _socket, data) {
      ws.send(data, TEXT);
    },
  };
}

/**
 * Every socket written to during one turn of the event loop stays corked until the
 * turn ends, so all the frames it got in that turn leave in one write.
 *
 * Why setImmediate and not process.nextTick: nextTick runs after each I/O callback,
 * so a batch would hold only the frames caused by one incoming chunk. setImmediate
 * runs once the poll phase has handled every socket that was readable, so frames
 * caused by all publishers whose messages arrived together share one write per
 * receiver: the largest batch Node + ws can make without delaying anything by a
 * timer. ws corks around its own two-part writes too; cork() nests, so our outer
 * cork holds until we uncork.
 */
export function corkingWriter(): FrameWriter {
  const corked = new Set<Socket>();
  let scheduled = false;
  const uncorkAll = () => {
    scheduled = false;
    for (const socket of corked) socket.uncork();
    corked.clear();
  };
  return {
    send(ws, socket, data) {
      if (!corked.has(socket)) {
        socket.cork();
        corked.add(socket);
        if (!scheduled) {
          scheduled = true;
          setImmediate(uncorkAll);
        }
      }
      ws.send(data, TEXT);
    },
  };
}

import { Socket } from 'node:net';
import type { PeerSocket } from './peer-socket';

/**
 * A complete server-to-client WebSocket text frame (RFC 6455 §5.2): FIN, opcode 1,
 * unmasked, payload length in 7, 16 or 64 bits. Built once per message, the same
 * Buffer goes to every recipient on the node, where `ws.send` would build a header
 * and queue two chunks per recipient.
 */
export function textFrame(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(payload, header, 'utf8');
  return frame;
}

/**
 * The TCP socket under a `ws` WebSocket. ws keeps it in the undocumented `_socket`
 * field and offers neither cork() nor a way to write a prepared frame; this is the
 * one place that reaches for it, and it checks what it finds, so a ws upgrade that
 * renames the field fails every socket test instead of silently slowing down.
 *
 * Writing frames straight to it is sound because the server never compresses
 * (perMessageDeflate is off), so ws's own sender never holds frames back: its pings
 * and close frames go to the same socket in call order with ours.
 */
export function underlyingSocket(ws: PeerSocket): Socket {
  const socket: unknown = Reflect.get(ws, '_socket');
  if (!(socket instanceof Socket))
    throw new Error('ws internals changed: no net.Socket at _socket');
  return socket;
}

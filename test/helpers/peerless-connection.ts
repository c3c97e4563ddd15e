import { Socket } from 'node:net';
import WebSocket from 'ws';
import { LocalConnection } from '../../services/socket/hub';
import type { PeerSocket } from '../../services/socket/peer-socket';

/**
 * A hub connection on a TCP socket with no peer, whose writes go to `onWrite`
 * instead: for tests of what the hub or the heartbeat writes, without a server.
 */
export function peerlessConnection(
  index: number,
  userId: string,
  teamId: string,
  onWrite: (chunk: unknown) => void,
): LocalConnection {
  const raw = new Socket();
  jest.spyOn(raw, 'write').mockImplementation((chunk: unknown) => {
    onWrite(chunk);
    return true;
  });
  const socket: PeerSocket & { _socket: Socket } = {
    _socket: raw,
    readyState: WebSocket.OPEN,
    close: () => undefined,
    terminate: () => undefined,
    on: () => undefined,
    once: () => undefined,
  };
  const info = {
    connId: `c${index}`,
    userId,
    name: userId,
    teamId,
    node: 'n',
    ip: '127.0.0.1',
    connectedAt: '',
  };
  return new LocalConnection(info, socket, undefined);
}

import type { RawData } from 'ws';

/**
 * What the socket transport uses of a `ws` WebSocket. Naming the few members keeps
 * the hub and the session free of the rest of ws, so a stand-in can drive them in
 * unit tests. Frames themselves go to the TCP socket under it (ws-frame.ts).
 */
export interface PeerSocket {
  readonly readyState: number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

import { FrameKind, type Member, type Protocol } from './protocol';
import type { WsClient } from './ws-client';

/**
 * Socket.IO 4 over its WebSocket transport only (Engine.IO protocol 4, Socket.IO
 * protocol 5), the part the bench needs: open, connect to `/`, ping, events, acks.
 *   Engine.IO packets: 0 open, 2 ping, 3 pong, 4 message.
 *   Socket.IO packets inside a 4: 0 connect, 2 event, 3 ack, 4 connect_error.
 */

const ENGINE_OPEN = '0'.charCodeAt(0);
const ENGINE_PING = '2'.charCodeAt(0);
const ENGINE_MESSAGE = '4'.charCodeAt(0);
const SIO_CONNECT = '0'.charCodeAt(0);
const SIO_EVENT = '2'.charCodeAt(0);
const SIO_ACK = '3'.charCodeAt(0);
const SIO_CONNECT_ERROR = '4'.charCodeAt(0);

export function socketIoProtocol(): Protocol {
  return {
    path: (m: Member) =>
      `/socket.io/?EIO=4&transport=websocket&id=${encodeURIComponent(m.id)}` +
      `&name=${encodeURIComponent(m.name)}&teamId=${encodeURIComponent(m.teamId)}`,

    classify(client: WsClient, buf: Buffer, start: number, end: number): FrameKind {
      if (start >= end) return FrameKind.other;
      const engine = buf[start];
      if (engine === ENGINE_OPEN) {
        client.send('40');
        return FrameKind.other;
      }
      if (engine === ENGINE_PING) {
        client.send('3');
        return FrameKind.other;
      }
      if (engine !== ENGINE_MESSAGE || start + 1 >= end) return FrameKind.other;
      switch (buf[start + 1]) {
        case SIO_EVENT:
          return FrameKind.message;
        case SIO_ACK:
          return FrameKind.ack;
        case SIO_CONNECT:
          return FrameKind.ready;
        case SIO_CONNECT_ERROR:
          return FrameKind.error;
        default:
          return FrameKind.other;
      }
    },

    publish(client: WsClient, data: string, n: number): void {
      // 42<ack id>[event, payload]: the server's ack comes back as 43<ack id>[...].
      client.send(`42${n}["team",${data}]`);
    },

    decode(text: string): unknown {
      if (!text.startsWith('42')) return undefined;
      const packet: unknown = JSON.parse(text.slice(2));
      if (!Array.isArray(packet) || packet[0] !== 'message') return undefined;
      const payload: unknown = packet[1];
      return typeof payload === 'object' && payload !== null
        ? Reflect.get(payload, 'data')
        : undefined;
    },
  };
}

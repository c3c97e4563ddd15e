import { FrameKind, type Member, type Protocol } from './protocol';
import type { WsClient } from './ws-client';

/**
 * Switchboard's frames (docs/PROTOCOL.md §2 and §4). The raw ws arms speak the same subset
 * (welcome, team, message, ack), so one client drives all three.
 */

// Every server frame is JSON.stringify of an object whose first key is `type`.
const TYPE_PREFIX = Buffer.from('{"type":"');
const M = 'm'.charCodeAt(0);
const A = 'a'.charCodeAt(0);
const W = 'w'.charCodeAt(0);
const E = 'e'.charCodeAt(0);
const S = 's'.charCodeAt(0);
const SUBSCRIBED = Buffer.from('{"type":"subscribed"');

export function switchboardProtocol(options: { useRef: boolean }): Protocol {
  return {
    path: (m: Member) =>
      `/socket?id=${encodeURIComponent(m.id)}&name=${encodeURIComponent(m.name)}` +
      `&teamId=${encodeURIComponent(m.teamId)}`,

    classify(_client: WsClient, buf: Buffer, start: number, end: number): FrameKind {
      const at = start + TYPE_PREFIX.length;
      if (at >= end || buf.compare(TYPE_PREFIX, 0, TYPE_PREFIX.length, start, at) !== 0) {
        return FrameKind.other;
      }
      switch (buf[at]) {
        case M:
          return FrameKind.message;
        case A:
          return FrameKind.ack;
        case W:
          return FrameKind.ready;
        case E:
          return FrameKind.error;
        case S:
          return end - start >= SUBSCRIBED.length &&
            buf.compare(SUBSCRIBED, 0, SUBSCRIBED.length, start, start + SUBSCRIBED.length) === 0
            ? FrameKind.subscribed
            : FrameKind.other;
        default:
          return FrameKind.other;
      }
    },

    publish(client: WsClient, data: string, n: number, teamId?: string): void {
      const team = teamId === undefined ? '' : `"teamId":${JSON.stringify(teamId)},`;
      client.send(
        options.useRef
          ? `{"type":"team",${team}"data":${data},"ref":"r${n}"}`
          : `{"type":"team",${team}"data":${data}}`,
      );
    },

    subscribe(client: WsClient, teamId: string): void {
      client.send(JSON.stringify({ type: 'subscribe', teamId }));
    },

    decode(text: string): unknown {
      const frame: unknown = JSON.parse(text);
      return typeof frame === 'object' && frame !== null ? Reflect.get(frame, 'data') : undefined;
    },
  };
}
